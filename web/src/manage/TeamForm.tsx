// A sales team's name, leader and members, to create a team or change one.
import { useSignal } from "@preact/signals";
import type { Team, User } from "../../gen/identity";
import { submitting, Field, FormAlert, type FormError } from "../ui/form";

export type TeamFields = Pick<Team, "name" | "leaderId" | "memberIds">;

type Props = {
    idPrefix: string;
    title: string;
    submitLabel: string;
    initial: TeamFields;
    people: User[];                 // active users, sorted
    nameOf: (id: string) => string;
    onSave: (fields: TeamFields) => Promise<void>;
    onCancel?: () => void;
};

export function TeamForm({ idPrefix, title, submitLabel, initial, people, nameOf, onSave, onCancel }: Props) {
    // the API checks every member and the leader on each change, and takes
    // active users only: deactivated ones leave the team with this save
    const active = (id: string) => people.some((u) => u.id === id);
    const leaving = [...new Set([initial.leaderId, ...initial.memberIds])].filter((id) => id !== "0" && !active(id));
    const f = useSignal<TeamFields>({
        name: initial.name,
        leaderId: active(initial.leaderId) ? initial.leaderId : "0",
        memberIds: initial.memberIds.filter(active),
    });
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const id = (n: string) => `${idPrefix}-${n}`;

    function toggle(userId: string, on: boolean) {
        const ids = f.value.memberIds.filter((m) => m !== userId);
        f.value = { ...f.value, memberIds: on ? [...ids, userId] : ids };
    }

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, () => onSave({ ...f.value, name: f.value.name.trim() }));
    }

    const memberError = error.value?.field === "memberIds" ? error.value.message : "";
    return (
        <form class="manage-form" onSubmit={submit} aria-label={title}>
            <h2>{title}</h2>
            <div class="manage-grid">
                <Field id={id("name")} label="Name" name="name" error={error.value}>
                    <input id={id("name")} aria-describedby={`${id("name")}-error`} value={f.value.name} required maxLength={128}
                        onInput={(e) => (f.value = { ...f.value, name: e.currentTarget.value })} />
                </Field>
                <Field id={id("leader")} label="Team leader" name="leaderId" error={error.value}>
                    <select id={id("leader")} aria-describedby={`${id("leader")}-error`} value={f.value.leaderId}
                        onChange={(e) => (f.value = { ...f.value, leaderId: e.currentTarget.value })}>
                        <option value="0">No leader</option>
                        {people.map((u) => <option key={u.id} value={u.id}>{u.name || u.login}</option>)}
                    </select>
                </Field>
            </div>
            <fieldset class="manage-members" aria-describedby={`${id("members")}-error`}>
                <legend>Members</legend>
                {people.map((u) => (
                    <label key={u.id} class="manage-check">
                        <input type="checkbox" checked={f.value.memberIds.includes(u.id)}
                            onChange={(e) => toggle(u.id, e.currentTarget.checked)} />
                        {u.name || u.login}
                    </label>
                ))}
                <p id={`${id("members")}-error`} class="field-error" role={memberError ? "alert" : undefined}>{memberError}</p>
            </fieldset>
            {leaving.length > 0 && (
                <p class="manage-note">Deactivated users leave the team when it is saved: {leaving.map(nameOf).join(", ")}.</p>
            )}
            <FormAlert error={error.value} fields={["name", "leaderId", "memberIds"]} />
            <div class="manage-actions">
                <button type="submit" disabled={busy.value}>{submitLabel}</button>
                {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
            </div>
        </form>
    );
}
