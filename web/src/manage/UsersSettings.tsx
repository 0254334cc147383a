// Users (administrators only, as the API has it): create one and pass on
// the invitation link, change access levels, set a password, deactivate
// (which ends the user's sessions) or reactivate.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { User } from "../../gen/identity";
import { UpdateUserRequest } from "../../gen/identity";
import { identity } from "../api";
import { currentUser } from "../session";
import { failure, type FormError } from "../ui/form";
import { hrAccessLabels, labelOf, salesAccessLabels } from "./labels";
import { NewUserForm } from "./NewUserForm";
import { PasswordForm } from "./PasswordForm";
import { SettingsCrumb } from "./Settings";
import { UserAccessForm } from "./UserAccessForm";
import { listUsers } from "./teams";

type Open = { id: string; form: "access" | "password" } | null;

export function UsersSettings({ user: me }: { user: User }) {
    const users = useSignal<User[] | null>(null);
    const error = useSignal<FormError>(null);
    const open = useSignal<Open>(null);
    const done = useSignal("");

    async function load() {
        try {
            users.value = await listUsers(true);
        } catch (e) {
            error.value = failure(e);
        }
    }
    useEffect(() => void load(), []);

    // the server's reply is the user as saved: the row takes it, no reload
    const replace = (saved: User) => (users.value = users.value?.map((x) => x.id === saved.id ? saved : x) ?? null);

    async function setActive(u: User, active: boolean) {
        done.value = "";
        error.value = null;
        try {
            const { response } = await identity.updateUser(UpdateUserRequest.create({ id: u.id, active, updateMask: { paths: ["active"] } }));
            replace(response);
            done.value = `${u.name || u.login} ${active ? "reactivated" : "deactivated"}.`;
        } catch (e) {
            error.value = failure(e);
            await load();
        }
    }

    const list = users.value;
    return (
        <section class="manage" aria-labelledby="users-title">
            <SettingsCrumb here="Users" />
            <h1 id="users-title">Users</h1>
            <NewUserForm onCreated={() => void load()} />
            {error.value && <p class="error" role="alert">{error.value.message}</p>}
            <p role="status" class="manage-done">{done.value}</p>
            {list === null
                ? !error.value && <p role="status">Loading…</p>
                : <div class="manage-table" role="region" aria-label="Users list" tabIndex={0}>
                    <table>
                        <thead><tr>
                            <th scope="col">Name</th><th scope="col">Login</th><th scope="col">Sales access</th>
                            <th scope="col">HR access</th><th scope="col">Administrator</th><th scope="col">Active</th>
                            <th scope="col">Actions</th>
                        </tr></thead>
                        <tbody>
                            {list.map((u) => {
                                const who = u.name || u.login;
                                const self = u.id === me.id;
                                const form = open.value?.id === u.id ? open.value.form : null;
                                return [
                                    <tr key={u.id} class={u.active ? undefined : "manage-inactive"}>
                                        <th scope="row">{who}</th>
                                        <td>{u.login}</td>
                                        <td>{labelOf(salesAccessLabels, u.salesAccess)}</td>
                                        <td>{labelOf(hrAccessLabels, u.hrAccess)}</td>
                                        <td>{u.isAdmin ? "Yes" : "No"}</td>
                                        <td>{u.active ? "Yes" : "No"}</td>
                                        <td class="manage-row-actions">
                                            <button type="button" aria-label={`Edit access of ${who}`}
                                                onClick={() => (open.value = { id: u.id, form: "access" })}>Access</button>
                                            {u.active && <button type="button" aria-label={`Change password of ${who}`}
                                                onClick={() => (open.value = { id: u.id, form: "password" })}>Password</button>}
                                            {!self && (u.active
                                                ? <button type="button" aria-label={`Deactivate ${who}`} onClick={() => setActive(u, false)}>Deactivate</button>
                                                : <button type="button" aria-label={`Reactivate ${who}`} onClick={() => setActive(u, true)}>Reactivate</button>)}
                                        </td>
                                    </tr>,
                                    form && (
                                        <tr key={`${u.id}-${form}`}><td colSpan={7}>
                                            {form === "access"
                                                ? <UserAccessForm user={u} self={self} onDone={(saved) => {
                                                    open.value = null;
                                                    if (saved) {
                                                        // the top bar and the screens one may use follow one's own change
                                                        if (self) currentUser.value = saved;
                                                        replace(saved);
                                                        done.value = `Access of ${saved.name || saved.login} saved.`;
                                                    }
                                                }} />
                                                : <PasswordForm user={u} self={self} onDone={(changed) => {
                                                    open.value = null;
                                                    if (changed) done.value = `Password of ${who} changed.`;
                                                }} />}
                                        </td></tr>
                                    ),
                                ];
                            })}
                        </tbody>
                    </table>
                  </div>}
        </section>
    );
}
