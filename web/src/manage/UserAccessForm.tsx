// What an administrator changes on a user: name, email, access levels and
// the administrator right (not their own: the API refuses it).
import { useSignal } from "@preact/signals";
import type { User } from "../../gen/identity";
import { UpdateUserRequest } from "../../gen/identity";
import { identity } from "../api";
import { submitting, Field, FormAlert, type FormError } from "../ui/form";
import { hrAccessLabels, salesAccessLabels } from "./labels";

type Props = { user: User; self: boolean; onDone: (saved: User | null) => void };
type Fields = Pick<User, "name" | "email" | "salesAccess" | "hrAccess" | "isAdmin">;
const maskOf: Record<keyof Fields, string> = {
    name: "name", email: "email", salesAccess: "sales_access", hrAccess: "hr_access", isAdmin: "is_admin",
};

export function UserAccessForm({ user, self, onDone }: Props) {
    const f = useSignal<Fields>({ name: user.name, email: user.email, salesAccess: user.salesAccess, hrAccess: user.hrAccess, isAdmin: user.isAdmin });
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const id = (n: string) => `user-${user.id}-${n}`;
    const set = (patch: Partial<Fields>) => (f.value = { ...f.value, ...patch });

    async function submit(ev: Event) {
        ev.preventDefault();
        const changed = (Object.keys(maskOf) as (keyof Fields)[]).filter((k) => f.value[k] !== user[k]);
        if (!changed.length) return onDone(null);
        await submitting(busy, error, async () => {
            const { response } = await identity.updateUser(UpdateUserRequest.create({
                id: user.id, ...f.value, active: user.active, updateMask: { paths: changed.map((k) => maskOf[k]) },
            }));
            onDone(response);
        });
    }

    const who = user.name || user.login;
    return (
        <form class="manage-form" onSubmit={submit} aria-label={`Access of ${who}`}>
            <h2>Access of {who}</h2>
            <div class="manage-grid">
                <Field id={id("name")} label="Name" name="name" error={error.value}>
                    <input id={id("name")} aria-describedby={`${id("name")}-error`} required value={f.value.name}
                        onInput={(e) => set({ name: e.currentTarget.value })} />
                </Field>
                <Field id={id("email")} label="Email" name="email" error={error.value}>
                    <input id={id("email")} aria-describedby={`${id("email")}-error`} type="email" required value={f.value.email}
                        onInput={(e) => set({ email: e.currentTarget.value })} />
                </Field>
                <Field id={id("sales")} label="Sales access" name="salesAccess" error={error.value}>
                    <select id={id("sales")} aria-describedby={`${id("sales")}-error`} value={f.value.salesAccess}
                        onChange={(e) => set({ salesAccess: Number(e.currentTarget.value) })}>
                        {salesAccessLabels.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                    </select>
                </Field>
                <Field id={id("hr")} label="HR access" name="hrAccess" error={error.value}>
                    <select id={id("hr")} aria-describedby={`${id("hr")}-error`} value={f.value.hrAccess}
                        onChange={(e) => set({ hrAccess: Number(e.currentTarget.value) })}>
                        {hrAccessLabels.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                    </select>
                </Field>
                {!self && (
                    <div class="field manage-check">
                        <input id={id("admin")} type="checkbox" checked={f.value.isAdmin}
                            onChange={(e) => set({ isAdmin: e.currentTarget.checked })} />
                        <label for={id("admin")}>Administrator</label>
                    </div>
                )}
            </div>
            <FormAlert error={error.value} fields={["name", "email", "salesAccess", "hrAccess"]} />
            <div class="manage-actions">
                <button type="submit" disabled={busy.value}>Save access</button>
                <button type="button" onClick={() => onDone(null)}>Cancel</button>
            </div>
        </form>
    );
}
