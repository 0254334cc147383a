// The chatter beside a lead, customer or quotation: its messages, newest
// first, and Log a note. (Issue 14 grows it: live tracking, messages to
// followers, attachments, followers.)
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { MessageKind, type Message } from "../../gen/activities";
import { activities, errorText } from "../api";
import { formatDateTime } from "../format";

export type DocModel = "lead" | "customer" | "quotation";

export function Chatter({ model, id }: { model: DocModel; id: string }) {
    const messages = useSignal<Message[] | null>(null);
    const note = useSignal("");
    const error = useSignal("");
    const doc = { model, id };

    async function load() {
        try {
            const { response } = await activities.listMessages({ doc, pageSize: 50, pageToken: "" });
            messages.value = response.messages;
        } catch (e) {
            error.value = errorText(e);
        }
    }
    useEffect(() => void load(), [model, id]);

    async function logNote(ev: Event) {
        ev.preventDefault();
        error.value = "";
        try {
            await activities.postMessage({ doc, kind: MessageKind.NOTE, body: note.value, attachments: [] });
            note.value = "";
            await load();
        } catch (e) {
            error.value = errorText(e);
        }
    }

    return (
        <aside class="chatter" aria-label="Chatter">
            <form onSubmit={logNote}>
                <label for={`note-${model}-${id}`}>Log a note</label>
                <textarea id={`note-${model}-${id}`} required value={note.value}
                    onInput={(e) => (note.value = e.currentTarget.value)} />
                <button type="submit">Log</button>
            </form>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {messages.value === null ? <p role="status">Loading…</p> : (
                <ol class="messages" aria-label="Messages">
                    {messages.value.map((m) => (
                        <li key={m.id}>
                            <p class="meta">{m.authorName || "System"} · <time>{formatDateTime(m.at)}</time></p>
                            {m.body && <p>{m.body}</p>}
                            {m.tracking.length > 0 && (
                                <ul class="tracking">
                                    {m.tracking.map((t) => <li key={t.field}>{t.label || t.field}: {t.oldText} → {t.newText}</li>)}
                                </ul>
                            )}
                        </li>
                    ))}
                </ol>
            )}
        </aside>
    );
}
