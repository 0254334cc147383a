// A configuration list that is only names (tags, lost reasons): the list,
// sorted for people, each renamed or deleted in place (NameItem), and a
// field to add one.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { failure, Field, FormAlert, type FormError } from "../ui/form";
import { byName } from "../format";
import { NameItem } from "./NameItem";
import { SettingsCrumb } from "./Settings";

type Named = { id: string; name: string };

type Props = {
    title: string;                      // "Tags"
    noun: string;                       // "tag": the button says "Add tag"
    idPrefix: string;                   // unique ids on the page
    list: () => Promise<Named[]>;
    create: (name: string) => Promise<void>;
    rename: (id: string, name: string) => Promise<void>;
    remove: (id: string) => Promise<void>;
};

export function NameList({ title, noun, idPrefix, list, create, rename, remove }: Props) {
    const items = useSignal<Named[] | null>(null);
    const loadError = useSignal<FormError>(null);
    const error = useSignal<FormError>(null);
    const name = useSignal("");
    const busy = useSignal(false);
    const done = useSignal("");

    async function load() {
        try {
            items.value = [...await list()].sort(byName);
            loadError.value = null;
        } catch (e) {
            loadError.value = failure(e);
        }
    }
    useEffect(() => void load(), []);

    async function submit(ev: Event) {
        ev.preventDefault();
        busy.value = true;
        error.value = null;
        done.value = "";
        try {
            const added = name.value.trim();
            await create(added);
            name.value = "";
            await load();
            done.value = `Added ${noun} “${added}”.`;
        } catch (e) {
            error.value = failure(e);
        } finally {
            busy.value = false;
        }
    }

    const id = `${idPrefix}-name`;
    return (
        <section class="manage" aria-labelledby={`${idPrefix}-title`}>
            <SettingsCrumb here={title} />
            <h1 id={`${idPrefix}-title`}>{title}</h1>
            <form class="manage-form manage-inline" onSubmit={submit} aria-label={`New ${noun}`}>
                <Field id={id} label="Name" name="name" error={error.value}>
                    <input id={id} value={name.value} required maxLength={128} aria-describedby={`${id}-error`}
                        onInput={(e) => (name.value = e.currentTarget.value)} />
                </Field>
                <button type="submit" disabled={busy.value}>Add {noun}</button>
                <FormAlert error={error.value} fields={["name"]} />
                <p role="status" class="manage-done">{done.value}</p>
            </form>
            {loadError.value && <p class="error" role="alert">{loadError.value.message}</p>}
            {items.value === null
                ? !loadError.value && <p role="status">Loading…</p>
                : items.value.length === 0
                    ? <p>No {noun} yet.</p>
                    : <ul class="manage-names" aria-label={title}>
                        {items.value.map((t) => (
                            <NameItem key={`${t.id}:${t.name}`} item={t} noun={noun} idPrefix={idPrefix} rename={rename} remove={remove}
                                onChanged={async (said) => { await load(); done.value = said; }} />
                        ))}
                      </ul>}
        </section>
    );
}
