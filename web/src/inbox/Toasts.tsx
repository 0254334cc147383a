// New notifications as they arrive, in a polite live region at the corner
// of the screen: read out without taking the focus from what the user is
// doing; each one fades after a while or when dismissed.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Notification } from "../../gen/notifications";
import { discussionPath, isDocModel } from "../chatter/doc";
import { onNotification } from "../live";

const SHOWN_MS = 10000;
const AT_MOST = 3;

export function Toasts() {
    const shown = useSignal<Notification[]>([]);

    useEffect(() => {
        const timers = new Set<ReturnType<typeof setTimeout>>();
        const off = onNotification((n) => {
            shown.value = [...shown.value.filter((t) => t.id !== n.id), n].slice(-AT_MOST);
            const timer = setTimeout(() => {
                timers.delete(timer);
                shown.value = shown.value.filter((t) => t.id !== n.id);
            }, SHOWN_MS);
            timers.add(timer);
        });
        return () => {
            off();
            timers.forEach(clearTimeout);
        };
    }, []);

    // The region is always there, so that what is added to it is announced;
    // a log (polite, additions read in order) rather than a status, which
    // screens keep for their own messages.
    return (
        <div class="toasts" role="log" aria-live="polite" aria-label="New notifications">
            {shown.value.map((n) => (
                <div key={n.id} class="toast">
                    <p>
                        <strong>{n.authorName || "System"}</strong>
                        {n.docName && <> on {n.docName}</>}: {n.summary}
                    </p>
                    {n.doc && isDocModel(n.doc.model) && <a href={discussionPath(n.doc)}>Open discussion</a>}
                    <button type="button" aria-label="Dismiss"
                        onClick={() => (shown.value = shown.value.filter((t) => t.id !== n.id))}>×</button>
                </div>
            ))}
        </div>
    );
}
