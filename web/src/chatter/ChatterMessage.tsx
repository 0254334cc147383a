// One entry of a chatter: what kind it is (in words, not only in colour),
// who and when, the text, tracked changes as "old → new", its files.
import { MessageKind, type Message } from "../../gen/activities";
import { formatDateTime } from "../format";
import { AttachmentItem } from "./AttachmentItem";

const kinds: Record<number, { label: string; cls: string }> = {
    [MessageKind.NOTE]: { label: "Note", cls: "note" },
    [MessageKind.COMMENT]: { label: "Message", cls: "comment" },
    [MessageKind.TRACKING]: { label: "Change", cls: "tracking" },
    [MessageKind.CALL]: { label: "Call", cls: "call" },
    [MessageKind.MEETING]: { label: "Meeting", cls: "meeting" },
};

function isoTime(micros: string): string | undefined {
    const ms = Number(BigInt(micros) / 1000n);
    return ms ? new Date(ms).toISOString() : undefined;
}

export function ChatterMessage({ message: m }: { message: Message }) {
    const kind = kinds[m.kind] ?? { label: "Entry", cls: "other" };
    return (
        <li class={`chatter-msg chatter-${kind.cls}`}>
            <p class="meta">
                <span class="kind">{kind.label}</span>
                {" · "}{m.authorName || "System"}
                {" · "}<time dateTime={isoTime(m.at)}>{formatDateTime(m.at)}</time>
            </p>
            {/* a tracking message's body is its changes in text: the list says it */}
            {m.body && !(m.kind === MessageKind.TRACKING && m.tracking.length > 0) && <p class="body">{m.body}</p>}
            {m.tracking.length > 0 && (
                <ul class="tracking" aria-label="Changes">
                    {m.tracking.map((t) => (
                        <li key={t.field}>
                            {t.label || t.field}: {t.oldText || "—"} → {t.newText || "—"}
                        </li>
                    ))}
                </ul>
            )}
            {m.attachments.length > 0 && (
                <ul class="attachments" aria-label="Attachments">
                    {m.attachments.map((a) => <AttachmentItem key={a.id} attachment={a} />)}
                </ul>
            )}
        </li>
    );
}
