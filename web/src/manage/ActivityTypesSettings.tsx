// Activity types (managers): the seeded Call, Meeting, Email and To-do and
// any added; a new one with its category and default days; rename, change
// the days, archive and restore each. Archived types stay on what was
// planned with them but are not offered for new activities.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ActivityCategory, type ActivityType } from "../../gen/activities";
import { activities } from "../api";
import { activityTypes, categoryWords, loadActivityTypes } from "../activities/types";
import { failure, Field, FormAlert, submitting, type FormError } from "../ui/form";
import { SettingsCrumb } from "./Settings";

const CATEGORIES = [ActivityCategory.TODO, ActivityCategory.CALL, ActivityCategory.EMAIL];

function TypeRow({ type, onSaved }: { type: ActivityType; onSaved: (text: string) => void }) {
    const name = useSignal(type.name);
    const days = useSignal(String(type.defaultDays));
    const busy = useSignal(false);
    const error = useSignal<FormError>(null);
    const id = `type-${type.id}`;

    async function save(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => {
            await activities.updateActivityType({
                id: type.id, name: name.value.trim(), defaultDays: Number(days.value), archived: false,
                updateMask: { paths: ["name", "default_days"] },
            });
            onSaved(`Saved ${name.value.trim()}.`);
        });
    }
    async function archive() {
        await submitting(busy, error, async () => {
            await activities.updateActivityType({
                id: type.id, name: "", defaultDays: 0, archived: !type.archived, updateMask: { paths: ["archived"] },
            });
            onSaved(`${type.archived ? "Restored" : "Archived"} ${type.name}.`);
        });
    }

    return (
        <li class="type-row">
            <form onSubmit={save} aria-label={`Activity type ${type.name}`} class="manage-form manage-inline">
                <Field id={`${id}-name`} label="Name" name="name" error={error.value}>
                    <input id={`${id}-name`} value={name.value} required maxLength={64} aria-describedby={`${id}-name-error`}
                        onInput={(e) => (name.value = e.currentTarget.value)} />
                </Field>
                <Field id={`${id}-days`} label="Default days" name="defaultDays" error={error.value}>
                    <input id={`${id}-days`} type="number" min={0} max={3650} value={days.value} aria-describedby={`${id}-days-error`}
                        onInput={(e) => (days.value = e.currentTarget.value)} />
                </Field>
                <span class="type-category">{categoryWords[type.category]}{type.archived ? " (archived)" : ""}</span>
                <button type="submit" disabled={busy.value}>Save</button>
                <button type="button" disabled={busy.value} onClick={archive}>{type.archived ? "Restore" : "Archive"}</button>
                <FormAlert error={error.value} fields={["name", "defaultDays"]} />
            </form>
        </li>
    );
}

export function ActivityTypesSettings() {
    const name = useSignal("");
    const category = useSignal(String(ActivityCategory.TODO));
    const days = useSignal("0");
    const busy = useSignal(false);
    const error = useSignal<FormError>(null);
    const loadError = useSignal<FormError>(null);
    const done = useSignal("");

    async function load() {
        try {
            await loadActivityTypes();
            loadError.value = null;
        } catch (e) {
            loadError.value = failure(e);
        }
    }
    useEffect(() => void load(), []);

    async function create(ev: Event) {
        ev.preventDefault();
        done.value = "";
        await submitting(busy, error, async () => {
            const added = name.value.trim();
            await activities.createActivityType({ name: added, category: Number(category.value), defaultDays: Number(days.value) });
            name.value = "";
            await load();
            done.value = `Added activity type “${added}”.`;
        });
    }
    function saved(text: string) {
        done.value = text;
        void load();
    }

    return (
        <section class="manage" aria-labelledby="types-title">
            <SettingsCrumb here="Activity types" />
            <h1 id="types-title">Activity types</h1>
            <form class="manage-form manage-inline" onSubmit={create} aria-label="New activity type">
                <Field id="types-name" label="Name" name="name" error={error.value}>
                    <input id="types-name" value={name.value} required maxLength={64} aria-describedby="types-name-error"
                        onInput={(e) => (name.value = e.currentTarget.value)} />
                </Field>
                <Field id="types-category" label="Category" name="category" error={error.value}>
                    <select id="types-category" value={category.value} aria-describedby="types-category-error"
                        onChange={(e) => (category.value = e.currentTarget.value)}>
                        {CATEGORIES.map((c) => <option key={c} value={String(c)}>{categoryWords[c]}</option>)}
                    </select>
                </Field>
                <Field id="types-days" label="Default days" name="defaultDays" error={error.value}>
                    <input id="types-days" type="number" min={0} max={3650} value={days.value} aria-describedby="types-days-error"
                        onInput={(e) => (days.value = e.currentTarget.value)} />
                </Field>
                <button type="submit" disabled={busy.value}>Add activity type</button>
                <FormAlert error={error.value} fields={["name", "category", "defaultDays"]} />
            </form>
            <p role="status" class="manage-done">{done.value}</p>
            {loadError.value && <p class="error" role="alert">{loadError.value.message}</p>}
            {activityTypes.value && (
                <ul class="manage-list type-list" aria-label="Activity types">
                    {activityTypes.value.map((t) => <TypeRow key={`${t.id}-${t.name}-${t.defaultDays}-${t.archived}`} type={t} onSaved={saved} />)}
                </ul>
            )}
        </section>
    );
}
