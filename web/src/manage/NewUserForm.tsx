// A new user: login, name, email, access levels, and a password or, left
// empty, an invitation whose link the administrator passes on (there is no
// mail: walkthrough 2).
import { useSignal } from "@preact/signals";
import { HrAccess, SalesAccess } from "../../gen/common";
import type { CreateUserReply } from "../../gen/identity";
import { identity } from "../api";
import { formatDateTime } from "../format";
import { failure, Field, FormAlert, type FormError } from "../ui/form";
import { hrAccessLabels, salesAccessLabels } from "./labels";

const fieldNames = ["login", "name", "email", "password", "salesAccess", "hrAccess", "isAdmin"];
const empty = { login: "", name: "", email: "", password: "", salesAccess: SalesAccess.OWN_LEADS, hrAccess: HrAccess.EMPLOYEE, isAdmin: false };

export function NewUserForm({ onCreated }: { onCreated: () => void }) {
    const f = useSignal({ ...empty });
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const created = useSignal<CreateUserReply | null>(null);
    const copied = useSignal("");
    const set = (patch: Partial<typeof empty>) => (f.value = { ...f.value, ...patch });
    const text = (n: "login" | "name", label: string) => (
        <Field id={`new-user-${n}`} label={label} name={n} error={error.value}>
            <input id={`new-user-${n}`} aria-describedby={`new-user-${n}-error`} type="text"
                required autocomplete="off" value={f.value[n]} onInput={(e) => set({ [n]: e.currentTarget.value })} />
        </Field>
    );

    async function submit(ev: Event) {
        ev.preventDefault();
        busy.value = true;
        error.value = null;
        created.value = null;
        copied.value = "";
        try {
            const { response } = await identity.createUser({ ...f.value, login: f.value.login.trim(), name: f.value.name.trim() });
            created.value = response;
            f.value = { ...empty };
            onCreated();
        } catch (e) {
            error.value = failure(e);
        } finally {
            busy.value = false;
        }
    }

    async function copy(link: string) {
        try {
            await navigator.clipboard.writeText(link);
            copied.value = "Link copied.";
        } catch (e) {
            copied.value = `The link could not be copied: ${(e as Error).message}. Select it and copy it by hand.`;
        }
    }

    const c = created.value;
    const link = c?.inviteToken ? `${location.origin}/invite/${c.inviteToken}` : "";
    return (
        <form class="manage-form" onSubmit={submit} aria-label="New user">
            <h2>New user</h2>
            <div class="manage-grid">
                {text("login", "Login")}
                {text("name", "Name")}
                <Field id="new-user-email" label="Email" name="email" error={error.value}>
                    <input id="new-user-email" aria-describedby="new-user-email-error" type="email" required
                        autocomplete="off" value={f.value.email} onInput={(e) => set({ email: e.currentTarget.value })} />
                </Field>
                <Field id="new-user-password" label="Password (empty: send an invitation)" name="password" error={error.value}>
                    <input id="new-user-password" aria-describedby="new-user-password-error" type="password"
                        autocomplete="new-password" value={f.value.password}
                        onInput={(e) => set({ password: e.currentTarget.value })} />
                </Field>
                <Field id="new-user-sales" label="Sales access" name="salesAccess" error={error.value}>
                    <select id="new-user-sales" aria-describedby="new-user-sales-error" value={f.value.salesAccess}
                        onChange={(e) => set({ salesAccess: Number(e.currentTarget.value) })}>
                        {salesAccessLabels.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                    </select>
                </Field>
                <Field id="new-user-hr" label="HR access" name="hrAccess" error={error.value}>
                    <select id="new-user-hr" aria-describedby="new-user-hr-error" value={f.value.hrAccess}
                        onChange={(e) => set({ hrAccess: Number(e.currentTarget.value) })}>
                        {hrAccessLabels.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                    </select>
                </Field>
                <div class="field manage-check">
                    <input id="new-user-admin" type="checkbox" checked={f.value.isAdmin}
                        onChange={(e) => set({ isAdmin: e.currentTarget.checked })} />
                    <label for="new-user-admin">Administrator</label>
                </div>
            </div>
            <FormAlert error={error.value} fields={fieldNames} />
            <div class="manage-actions"><button type="submit" disabled={busy.value}>Create user</button></div>
            {c && (
                <div class="manage-invite" role="status">
                    <p>User “{c.user?.name}” ({c.user?.login}) created{link ? "." : " with the password given."}</p>
                    {link && <>
                        <label for="invite-link">Invitation link</label>
                        <div class="manage-invite-link">
                            <input id="invite-link" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
                            <button type="button" onClick={() => copy(link)}>Copy link</button>
                        </div>
                        <p>Give this link to {c.user?.name}: it lets them set their password once
                            {c.inviteExpiresAt !== "0" ? `, until ${formatDateTime(c.inviteExpiresAt)}` : ""}.</p>
                        <p>{copied.value}</p>
                    </>}
                </div>
            )}
        </form>
    );
}
