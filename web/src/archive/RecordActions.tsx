// Archive, restore and delete of one record (a lead or a customer): archive
// and restore for whoever may change it, delete for managers after a
// confirmation (the API's rules). An archived record is said to be so. The
// server's refusal (it names the record itself, field "id") is shown here,
// beside the buttons that asked.
import { useSignal } from "@preact/signals";
import { Dialog } from "../ui/Dialog";
import { failure, type FormError } from "../ui/form";

type Props = {
    idPrefix: string;              // unique ids on the page
    noun: string;                  // "opportunity", "customer"
    name: string;
    archived: boolean;
    canChange: boolean;
    canDelete: boolean;
    archive: () => Promise<void>;
    restore: () => Promise<void>;
    remove: () => Promise<void>;   // the page leaves once it is done
};

export function RecordActions({ idPrefix, noun, name, archived, canChange, canDelete, archive, restore, remove }: Props) {
    const busy = useSignal(false);
    const error = useSignal<FormError>(null);
    const confirming = useSignal(false);

    async function run(fn: () => Promise<void>) {
        busy.value = true;
        error.value = null;
        try {
            await fn();
        } catch (e) {
            error.value = failure(e);
        } finally {
            busy.value = false;
        }
    }

    async function confirmDelete(ev: Event) {
        ev.preventDefault();
        confirming.value = false;
        await run(remove);
    }

    if (!canChange && !canDelete && !archived) return null;
    return (
        <div class="record-actions" role="group" aria-label={`Archive or delete this ${noun}`}>
            {archived && <p class="record-archived" role="status">This {noun} is archived: it is out of lists, the pipeline and totals.</p>}
            {canChange && !archived && <button type="button" disabled={busy.value} onClick={() => run(archive)}>Archive</button>}
            {canChange && archived && <button type="button" disabled={busy.value} onClick={() => run(restore)}>Restore</button>}
            {canDelete && <button type="button" class="danger" disabled={busy.value} onClick={() => (confirming.value = true)}>Delete</button>}
            {error.value && <p id={`${idPrefix}-error`} class="error" role="alert">{error.value.message}</p>}
            {confirming.value && (
                <Dialog id={`${idPrefix}-confirm`} title={`Delete ${noun} “${name}”?`} class="lead-dialog"
                    onClose={() => (confirming.value = false)}>
                    <form method="dialog" onSubmit={confirmDelete}>
                        <p>It is deleted for good, with its chatter. Archiving keeps it out of the way instead.</p>
                        <div class="lead-actions">
                            <button type="submit" class="danger">Delete for good</button>
                            <button type="button" onClick={() => (confirming.value = false)}>Cancel</button>
                        </div>
                    </form>
                </Dialog>
            )}
        </div>
    );
}
