// Export: every record the user may see as a CSV file, built here from
// ExportRecords pages and handed to the browser as a download.
import { useSignal } from "@preact/signals";
import { ArchiveFilter, ImportModel } from "../../gen/pipeline";
import { pipeline } from "../api";
import { failure } from "../ui/form";

type Props = { model: ImportModel; file: string };

export function ExportButton({ model, file }: Props) {
    const busy = useSignal(false);
    const status = useSignal("");
    const error = useSignal("");

    async function run() {
        busy.value = true;
        status.value = "Exporting…";
        error.value = "";
        try {
            const parts: string[] = [];
            let pageToken = "", rows = 0;
            do {
                const { response } = await pipeline.exportRecords({ model, pageSize: 1000, pageToken, archived: ArchiveFilter.ACTIVE });
                parts.push(response.csv);
                rows += response.rows;
                pageToken = response.nextPageToken;
                status.value = `Exporting… ${rows} rows`;
            } while (pageToken);
            const url = URL.createObjectURL(new Blob(parts, { type: "text/csv;charset=utf-8" }));
            const a = document.createElement("a");
            a.href = url;
            a.download = file;
            document.body.append(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(url), 10000);
            status.value = `Exported ${rows} ${rows === 1 ? "row" : "rows"} to ${file}.`;
        } catch (e) {
            status.value = "";
            error.value = failure(e)?.message ?? "";
        } finally {
            busy.value = false;
        }
    }

    return (
        <>
            <button type="button" onClick={run} disabled={busy.value}>Export</button>
            <span class="transfer-status" role="status">{status.value}</span>
            {error.value && <p class="error" role="alert">{error.value}</p>}
        </>
    );
}
