// One file on a message: a preview for an image (loaded once it is near the
// screen), its name and size, and Download.
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { Attachment } from "../../gen/activities";
import { errorText } from "../api";
import { attachmentBlob, downloadAttachment, formatSize, isPreviewable } from "./attachments";

export function AttachmentItem({ attachment }: { attachment: Attachment }) {
    const url = useSignal("");
    const error = useSignal("");
    const busy = useSignal(false);
    const holder = useRef<HTMLLIElement>(null);
    const preview = isPreviewable(attachment.contentType);

    useEffect(() => {
        if (!preview || !holder.current) return;
        let objectUrl = "";
        let gone = false;
        const seen = new IntersectionObserver((entries) => {
            if (!entries.some((e) => e.isIntersecting)) return;
            seen.disconnect();
            attachmentBlob(attachment.id).then((blob) => {
                if (gone) return;
                objectUrl = URL.createObjectURL(blob);
                url.value = objectUrl;
            }, (e) => (error.value = errorText(e)));
        }, { rootMargin: "200px" });
        seen.observe(holder.current);
        return () => {
            gone = true;
            seen.disconnect();
            if (objectUrl) URL.revokeObjectURL(objectUrl);
        };
    }, [attachment.id]);

    async function download() {
        busy.value = true;
        error.value = "";
        try {
            await downloadAttachment(attachment.id, attachment.filename);
        } catch (e) {
            error.value = errorText(e);
        } finally {
            busy.value = false;
        }
    }

    return (
        <li ref={holder} class="attachment">
            {preview && url.value && <img src={url.value} alt={`Preview of ${attachment.filename}`} />}
            <span class="file">{attachment.filename} <span class="size">({formatSize(attachment.size)})</span></span>
            <button type="button" onClick={download} disabled={busy.value}
                aria-label={`Download ${attachment.filename}`}>Download</button>
            {error.value && <p class="error" role="alert">{error.value}</p>}
        </li>
    );
}
