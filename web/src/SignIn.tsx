// Sign in: login and password; the server's error text when it refuses.
import { useSignal } from "@preact/signals";
import { cookieSession, errorText, identity } from "./api";
import { currentUser } from "./session";
import { navigate } from "./router";
import { home } from "./routes";

export function SignIn({ notice }: { notice: string }) {
    const login = useSignal("");
    const password = useSignal("");
    const error = useSignal(notice);
    const busy = useSignal(false);

    async function submit(ev: Event) {
        ev.preventDefault();
        busy.value = true;
        error.value = "";
        try {
            const { response } = await identity.login(
                { login: login.value, password: password.value },
                cookieSession,
            );
            password.value = "";
            if (!response.user) throw new Error("the server sent no user");
            if (location.pathname === "/") navigate(home, true);
            currentUser.value = response.user;
        } catch (e) {
            error.value = errorText(e);
        } finally {
            busy.value = false;
        }
    }

    return (
        <main id="main" class="signin">
            <form onSubmit={submit} aria-labelledby="signin-title">
                <h1 id="signin-title">Sign in</h1>
                <label for="login">Login</label>
                <input id="login" name="username" autocomplete="username" required
                    value={login.value} onInput={(e) => (login.value = e.currentTarget.value)} />
                <label for="password">Password</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required
                    value={password.value} onInput={(e) => (password.value = e.currentTarget.value)} />
                {error.value && <p class="error" role="alert">{error.value}</p>}
                <button type="submit" disabled={busy.value}>Sign in</button>
            </form>
        </main>
    );
}
