// Import a CSV file: pick it, Check (a dry run of every page: per-row
// errors, nothing written), then Import, a page at a time with its progress.
// Each page goes with an idempotency key made of the file's hash and the
// page, so an import retried after a lost answer writes nothing twice (and
// the server's own record of imported rows makes a re-run create nothing
// twice). A page the server refuses whole names "csv": shown under the file.
import { useSignal } from "@preact/signals";
import type { ImportModel, RowError } from "../../gen/pipeline";
import { pipeline } from "../api";
import { Dialog } from "../ui/Dialog";
import { Field, FormAlert, failure, type FormError } from "../ui/form";
import { csvPages, type CsvPage } from "./csvPages";
import { ImportErrors } from "./ImportErrors";

const PAGE_ROWS = 500;
// half the server's 4 MiB page: JSON escapes (\" \n) may double the text,
// and the gateway takes 1.5 times the page as JSON
const PAGE_BYTES = 2 * 1024 * 1024;

type Props = { model: ImportModel; what: string; onClose: () => void; onImported: () => void };
type Totals = { rows: number; created: number; updated: number; unchanged: number; failed: number };

async function fileHash(bytes: ArrayBuffer): Promise<string> {
    if (!globalThis.crypto?.subtle) return "";
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function ImportDialog({ model, what, onClose, onImported }: Props) {
    const pages = useSignal<CsvPage[] | null>(null);
    const hash = useSignal("");
    const busy = useSignal(false);
    const checked = useSignal(false);
    const progress = useSignal("");
    const errors = useSignal<RowError[]>([]);
    const summary = useSignal("");
    const error = useSignal<FormError>(null);

    async function pick(ev: Event) {
        const input = ev.currentTarget as HTMLInputElement;
        pages.value = null;
        checked.value = false;
        errors.value = [];
        summary.value = "";
        error.value = null;
        const file = input.files?.[0];
        if (!file) return;
        const bytes = await file.arrayBuffer();
        let text: string;
        try {
            text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        } catch {
            error.value = { field: "csv", message: "The file is not UTF-8 text: save it as “CSV UTF-8” and pick it again." };
            return;
        }
        const cut = csvPages(text, PAGE_ROWS, PAGE_BYTES);
        if (!cut.length) {
            error.value = { field: "csv", message: "The file has no header line and no rows." };
            return;
        }
        hash.value = await fileHash(bytes);
        pages.value = cut;
        progress.value = `${cut.reduce((n, p) => n + p.rows, 0)} rows in ${cut.length} ${cut.length === 1 ? "page" : "pages"}.`;
    }

    async function run(dryRun: boolean) {
        const all = pages.value;
        if (!all) return;
        busy.value = true;
        error.value = null;
        errors.value = [];
        summary.value = "";
        const t: Totals = { rows: 0, created: 0, updated: 0, unchanged: 0, failed: 0 };
        const found: RowError[] = [];
        try {
            for (let i = 0; i < all.length; i++) {
                const p = all[i];
                progress.value = `${dryRun ? "Checking" : "Importing"} page ${i + 1} of ${all.length}…`;
                const key = !dryRun && hash.value ? `import-web-${hash.value}-${model}-${PAGE_ROWS}-${i}` : "";
                const { response: r } = await pipeline.importRecords(
                    { model, csv: p.csv, firstRow: p.firstRow, dryRun },
                    key ? { meta: { "Idempotency-Key": key } } : {});
                t.rows += r.rows;
                t.created += r.created;
                t.updated += r.updated;
                t.unchanged += r.unchanged;
                t.failed += r.errors.length;
                found.push(...r.errors);
                errors.value = [...found];
                progress.value = `${dryRun ? "Checked" : "Imported"} page ${i + 1} of ${all.length}: ${t.rows} rows.`;
            }
            summary.value = dryRun
                ? `${t.rows} rows checked: ${t.created} would be created, ${t.updated} updated, ${t.unchanged} unchanged, ${t.failed} with errors. Nothing was written.`
                : `${t.rows} rows: ${t.created} created, ${t.updated} updated, ${t.unchanged} unchanged, ${t.failed} with errors.`;
            if (dryRun) checked.value = true;
            else onImported();
        } catch (e) {
            error.value = failure(e);
            progress.value = "";
        } finally {
            busy.value = false;
        }
    }

    return (
        <Dialog id="import" class="lead-dialog import-dialog" title={`Import ${what}`} onClose={onClose}>
            <form method="dialog" onSubmit={(e) => e.preventDefault()}>
                <Field id="import-file" label="CSV file" name="csv" error={error.value}>
                    <input id="import-file" type="file" accept=".csv,text/csv" aria-describedby="import-file-error"
                        disabled={busy.value} onChange={pick} />
                </Field>
                <p class="field-hint">The first line names the columns, as an export writes them. “,” or “;” separated, UTF-8.</p>
                <FormAlert error={error.value} fields={["csv"]} />
                <p class="transfer-status" role="status">{progress.value}</p>
                {summary.value && <p class="import-summary" role="status">{summary.value}</p>}
                <ImportErrors errors={errors.value} />
                <div class="lead-actions">
                    <button type="button" disabled={busy.value || !pages.value} onClick={() => run(true)}>Check</button>
                    <button type="button" disabled={busy.value || !pages.value || !checked.value} onClick={() => run(false)}>Import</button>
                    <button type="button" onClick={onClose}>Close</button>
                </div>
            </form>
        </Dialog>
    );
}
