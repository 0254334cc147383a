// Writing in a chatter: "Send a message" (to the document's followers) and
// "Log a note" (internal: notifies no one), as two tabs over one text box,
// with files from the picker or dropped on the box's zone.
import { useSignal } from "@preact/signals";
import { Attachment, MessageKind, PostMessageRequest } from "../../gen/activities";
import type { DocRef } from "../../gen/common";
import { activities, isUnauthenticated } from "../api";
import { currentUser } from "../session";
import { formError, type FormError } from "../ui/form";
import { formatSize } from "./attachments";

type Mode = "comment" | "note";
const modes: { mode: Mode; tab: string; hint: string; submit: string }[] = [
    { mode: "comment", tab: "Send a message", hint: "Sent to the followers of this document.", submit: "Send" },
    { mode: "note", tab: "Log a note", hint: "Internal: notifies no one.", submit: "Log" },
];

export function Composer({ doc, onPosted }: { doc: DocRef; onPosted: () => void }) {
    const mode = useSignal<Mode>("note");
    const body = useSignal("");
    const files = useSignal<File[]>([]);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const dragging = useSignal(false);
    const base = `composer-${doc.model}-${doc.id}`;
    const current = modes.find((m) => m.mode === mode.value)!;
    const tabId = (m: Mode) => `${base}-tab-${m}`;

    function choose(m: Mode, focus = false) {
        mode.value = m;
        error.value = null;
        if (focus) document.getElementById(tabId(m))?.focus();
    }
    // arrow keys move between the tabs, as in every tab list
    function onTabKey(ev: KeyboardEvent) {
        const i = modes.findIndex((m) => m.mode === mode.value);
        const step = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
        if (ev.key === "Home" || ev.key === "End") {
            ev.preventDefault();
            choose(modes[ev.key === "Home" ? 0 : modes.length - 1].mode, true);
        } else if (step) {
            ev.preventDefault();
            choose(modes[(i + step + modes.length) % modes.length].mode, true);
        }
    }

    function addFiles(list: FileList | null) {
        if (!list || list.length === 0) return;
        const known = new Set(files.value.map((f) => `${f.name}/${f.size}/${f.lastModified}`));
        files.value = [...files.value, ...[...list].filter((f) => !known.has(`${f.name}/${f.size}/${f.lastModified}`))];
    }

    async function submit(ev: Event) {
        ev.preventDefault();
        busy.value = true;
        error.value = null;
        try {
            const attachments = await Promise.all(files.value.map(async (f) => Attachment.create({
                filename: f.name,
                contentType: f.type || "application/octet-stream",
                data: new Uint8Array(await f.arrayBuffer()),
            })));
            await activities.postMessage(PostMessageRequest.create({
                doc, body: body.value, attachments,
                kind: mode.value === "note" ? MessageKind.NOTE : MessageKind.COMMENT,
            }));
            body.value = "";
            files.value = [];
            onPosted();
        } catch (e) {
            if (isUnauthenticated(e)) currentUser.value = "signed-out";
            error.value = formError(e);
        } finally {
            busy.value = false;
        }
    }

    const err = error.value;
    const bodyError = err?.field === "body" ? err.message : "";
    const filesError = err?.field.startsWith("attachments") ? err.message : "";
    const otherError = err && !bodyError && !filesError ? err.message : "";
    return (
        <form class="composer" onSubmit={submit} aria-label="Write in the chatter">
            <div role="tablist" aria-label="Message or note" class="composer-tabs">
                {modes.map((m) => (
                    <button key={m.mode} type="button" role="tab" id={tabId(m.mode)}
                        aria-selected={mode.value === m.mode} aria-controls={`${base}-panel`}
                        tabIndex={mode.value === m.mode ? 0 : -1}
                        onClick={() => choose(m.mode)} onKeyDown={onTabKey}>{m.tab}</button>
                ))}
            </div>
            <div role="tabpanel" id={`${base}-panel`} aria-labelledby={tabId(mode.value)} class="composer-panel">
                <textarea id={`${base}-body`} aria-labelledby={tabId(mode.value)}
                    aria-describedby={`${base}-hint ${base}-body-error`} aria-invalid={bodyError ? true : undefined}
                    value={body.value} onInput={(e) => (body.value = e.currentTarget.value)} rows={3} />
                <p id={`${base}-hint`} class="hint">{current.hint}</p>
                <p id={`${base}-body-error`} class="field-error" role={bodyError ? "alert" : undefined}>{bodyError}</p>
                <div class={dragging.value ? "dropzone dragging" : "dropzone"} role="group" aria-label="Drop files here"
                    onDragOver={(e) => { e.preventDefault(); dragging.value = true; }}
                    onDragLeave={() => (dragging.value = false)}
                    onDrop={(e) => { e.preventDefault(); dragging.value = false; addFiles(e.dataTransfer?.files ?? null); }}>
                    <label for={`${base}-files`}>Attach files</label>
                    <input id={`${base}-files`} type="file" multiple aria-describedby={`${base}-files-hint ${base}-files-error`}
                        onChange={(e) => { addFiles(e.currentTarget.files); e.currentTarget.value = ""; }} />
                    <p id={`${base}-files-hint`} class="hint">or drop them here</p>
                </div>
                {files.value.length > 0 && (
                    <ul class="composer-files" aria-label="Files to attach">
                        {files.value.map((f, i) => (
                            <li key={`${f.name}/${i}`}>
                                {f.name} <span class="size">({formatSize(f.size)})</span>
                                <button type="button" aria-label={`Remove ${f.name}`}
                                    onClick={() => (files.value = files.value.filter((g) => g !== f))}>Remove</button>
                            </li>
                        ))}
                    </ul>
                )}
                <p id={`${base}-files-error`} class="field-error" role={filesError ? "alert" : undefined}>{filesError}</p>
                {otherError && <p class="error" role="alert">{otherError}</p>}
                <button type="submit" disabled={busy.value || (!body.value.trim() && files.value.length === 0)}>
                    {current.submit}
                </button>
            </div>
        </form>
    );
}
