// "Change Password" (walkthrough 2): an administrator sets another user's
// password; one's own needs the old one too (the API's rule). The user's
// other sessions end with it.
import { useSignal } from "@preact/signals";
import type { User } from "../../gen/identity";
import { identity } from "../api";
import { submitting, Field, FormAlert, type FormError } from "../ui/form";

type Props = { user: User; self: boolean; onDone: (changed: boolean) => void };

export function PasswordForm({ user, self, onDone }: Props) {
    const oldPassword = useSignal("");
    const newPassword = useSignal("");
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const id = (n: string) => `user-${user.id}-${n}`;

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => {
            await identity.changePassword({ userId: user.id, newPassword: newPassword.value, oldPassword: oldPassword.value });
            onDone(true);
        });
    }

    const who = user.name || user.login;
    return (
        <form class="manage-form" onSubmit={submit} aria-label={`Change password of ${who}`}>
            <h2>Change password of {who}</h2>
            <div class="manage-grid">
                {self && (
                    <Field id={id("old")} label="Current password" name="oldPassword" error={error.value}>
                        <input id={id("old")} aria-describedby={`${id("old")}-error`} type="password" required
                            autocomplete="current-password" value={oldPassword.value}
                            onInput={(e) => (oldPassword.value = e.currentTarget.value)} />
                    </Field>
                )}
                <Field id={id("new")} label="New password" name="newPassword" error={error.value}>
                    <input id={id("new")} aria-describedby={`${id("new")}-error`} type="password" required
                        autocomplete="new-password" value={newPassword.value}
                        onInput={(e) => (newPassword.value = e.currentTarget.value)} />
                </Field>
            </div>
            <FormAlert error={error.value} fields={self ? ["oldPassword", "newPassword"] : ["newPassword"]} />
            <div class="manage-actions">
                <button type="submit" disabled={busy.value}>Change password</button>
                <button type="button" onClick={() => onDone(false)}>Cancel</button>
            </div>
        </form>
    );
}
