// The invitation link (/invite/<token>): a user created without a password
// sets one (SetPassword with the token) and is signed in. The token does
// not tell who it is for and SetPassword answers nothing, so the user types
// their login, as the administrator gave it, to sign in after.
import { useSignal } from "@preact/signals";
import { cookieSession, identity } from "../api";
import { navigate } from "../router";
import { home } from "../routes";
import { currentUser } from "../session";
import { Field, FormAlert, formError, type FormError } from "../ui/form";

const FIELDS = ["login", "password", "repeat"] as const;

export function InviteScreen({ token }: { token: string }) {
    const login = useSignal("");
    const password = useSignal("");
    const repeat = useSignal("");
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    // the invitation is spent once the password is set: after that, only
    // signing in is left to retry
    const passwordSet = useSignal(false);

    async function submit(ev: Event) {
        ev.preventDefault();
        error.value = null;
        if (!passwordSet.value && password.value !== repeat.value) {
            error.value = { field: "repeat", message: "The two passwords differ." };
            return;
        }
        busy.value = true;
        try {
            if (!passwordSet.value) {
                await identity.setPassword({ inviteToken: token, password: password.value });
                passwordSet.value = true;
            }
            const { response } = await identity.login({ login: login.value, password: password.value }, cookieSession);
            if (!response.user) throw new Error("the server sent no user");
            password.value = repeat.value = "";
            // replace: the spent link does not stay in the history
            navigate(home, true);
            currentUser.value = response.user;
        } catch (e) {
            const fe = formError(e);
            // the server's "inviteToken" is the link itself: no field to show it under
            error.value = fe && passwordSet.value && fe.field === "" ? { ...fe, field: "login" } : fe;
        } finally {
            busy.value = false;
        }
    }

    return (
        <form class="invite" onSubmit={submit} aria-labelledby="invite-title">
            <h1 id="invite-title">Set your password</h1>
            <p>{passwordSet.value
                ? "Your password is set. Check your login to sign in."
                : "You were invited to the CRM. Choose a password to sign in with."}</p>
            <Field id="invite-login" label="Login" name="login" error={error.value}>
                <input id="invite-login" name="username" autocomplete="username" required
                    aria-describedby="invite-login-error"
                    value={login.value} onInput={(e) => (login.value = e.currentTarget.value)} />
            </Field>
            <Field id="invite-password" label="New password" name="password" error={error.value}>
                <input id="invite-password" type="password" autocomplete="new-password" required
                    readOnly={passwordSet.value} aria-describedby="invite-password-error"
                    value={password.value} onInput={(e) => (password.value = e.currentTarget.value)} />
            </Field>
            {!passwordSet.value && (
                <Field id="invite-repeat" label="Repeat the password" name="repeat" error={error.value}>
                    <input id="invite-repeat" type="password" autocomplete="new-password" required
                        aria-describedby="invite-repeat-error"
                        value={repeat.value} onInput={(e) => (repeat.value = e.currentTarget.value)} />
                </Field>
            )}
            <FormAlert error={error.value} fields={FIELDS} />
            <button type="submit" disabled={busy.value}>{passwordSet.value ? "Sign in" : "Set password and sign in"}</button>
            <p><a href={home}>Sign in with a password you have</a></p>
        </form>
    );
}
