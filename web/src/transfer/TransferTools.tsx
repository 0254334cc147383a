// Import and Export beside a list of leads or customers.
import { useSignal } from "@preact/signals";
import type { ImportModel } from "../../gen/pipeline";
import { ExportButton } from "./ExportButton";
import { ImportDialog } from "./ImportDialog";

type Props = { model: ImportModel; what: string; file: string; onImported: () => void };

export function TransferTools({ model, what, file, onImported }: Props) {
    const open = useSignal(false);
    return (
        <div class="transfer-tools" role="group" aria-label={`Import and export ${what}`}>
            <button type="button" onClick={() => (open.value = true)}>Import</button>
            <ExportButton model={model} file={file} />
            {open.value && <ImportDialog model={model} what={what} onClose={() => (open.value = false)} onImported={onImported} />}
        </div>
    );
}
