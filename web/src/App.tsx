// The app's frame: sign-in until there is a session, then the top bar and
// the Pipeline (the one screen of this first slice).
import { useEffect } from "preact/hooks";
import { currentUser, loadSession, sessionError } from "./session";
import { SignIn } from "./SignIn";
import { PipelineBoard } from "./PipelineBoard";
import { TopBar } from "./TopBar";

export function App() {
    useEffect(() => {
        void loadSession();
    }, []);
    const user = currentUser.value;
    if (user === null) return <p class="loading" role="status">Loading…</p>;
    if (user === "signed-out") return <SignIn notice={sessionError.value} />;
    return (
        <>
            <TopBar user={user} />
            <main id="main">
                <PipelineBoard user={user} />
            </main>
        </>
    );
}
