// One name of a configuration list (a tag, a lost reason) with Rename and
// Delete. The server refuses a name already taken (under the name field) and
// a delete while leads use it (its words beside the item, saying how many).
import { useSignal } from "@preact/signals";
import { Dialog } from "../ui/Dialog";
import { failure, Field, FormAlert, type FormError } from "../ui/form";

type Named = { id: string; name: string };

type Props = {
    item: Named;
    noun: string;                           // "tag"
    idPrefix: string;
    rename: (id: string, name: string) => Promise<void>;
    remove: (id: string) => Promise<void>;
    onChanged: (said: string) => Promise<void>;   // reloads the list and says what was done
};

export function NameItem({ item, noun, idPrefix, rename, remove, onChanged }: Props) {
    const editing = useSignal(false);
    const confirming = useSignal(false);
    const name = useSignal(item.name);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const id = `${idPrefix}-${item.id}`;

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

    async function save(ev: Event) {
        ev.preventDefault();
        const to = name.value.trim();
        await run(async () => {
            await rename(item.id, to);
            editing.value = false;
            await onChanged(`Renamed ${noun} “${item.name}” to “${to}”.`);
        });
    }

    async function confirmDelete(ev: Event) {
        ev.preventDefault();
        confirming.value = false;
        await run(async () => {
            await remove(item.id);
            await onChanged(`Deleted ${noun} “${item.name}”.`);
        });
    }

    return (
        <li>
            {editing.value ? (
                <form class="manage-inline" onSubmit={save} aria-label={`Rename ${noun} ${item.name}`}>
                    <Field id={`${id}-name`} label="New name" name="name" error={error.value}>
                        <input id={`${id}-name`} value={name.value} required maxLength={128} aria-describedby={`${id}-name-error`}
                            onInput={(e) => (name.value = e.currentTarget.value)} />
                    </Field>
                    <button type="submit" disabled={busy.value}>Save</button>
                    <button type="button" onClick={() => { editing.value = false; error.value = null; name.value = item.name; }}>Cancel</button>
                    <FormAlert error={error.value} fields={["name"]} />
                </form>
            ) : (
                <>
                    <span>{item.name}</span>{" "}
                    <button type="button" aria-label={`Rename ${item.name}`} disabled={busy.value}
                        onClick={() => (editing.value = true)}>Rename</button>{" "}
                    <button type="button" aria-label={`Delete ${item.name}`} disabled={busy.value}
                        onClick={() => (confirming.value = true)}>Delete</button>
                    {error.value && <span class="error" role="alert"> {error.value.message}</span>}
                </>
            )}
            {confirming.value && (
                <Dialog id={`${id}-confirm`} title={`Delete ${noun} “${item.name}”?`} class="lead-dialog"
                    onClose={() => (confirming.value = false)}>
                    <form method="dialog" onSubmit={confirmDelete}>
                        <p>Only a {noun} no lead uses can be deleted.</p>
                        <div class="lead-actions">
                            <button type="submit">Delete {noun}</button>
                            <button type="button" onClick={() => (confirming.value = false)}>Cancel</button>
                        </div>
                    </form>
                </Dialog>
            )}
        </li>
    );
}
