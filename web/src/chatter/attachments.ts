// Attachments' bytes come from GetAttachment (the messages carry only their
// names and sizes): one call per attachment, kept for the page's life so
// that a preview and a download share it.
import { activities } from "../api";

const blobs = new Map<string, Promise<Blob>>();

export function attachmentBlob(id: string): Promise<Blob> {
    let got = blobs.get(id);
    if (!got) {
        got = activities.getAttachment({ id }).then(({ response }) =>
            new Blob([response.data as Uint8Array<ArrayBuffer>], { type: response.contentType || "application/octet-stream" }));
        // a failed fetch is asked again next time
        got.catch(() => blobs.delete(id));
        blobs.set(id, got);
    }
    return got;
}

// Saves the attachment as a file of its name, through an object URL.
export async function downloadAttachment(id: string, filename: string): Promise<void> {
    const url = URL.createObjectURL(await attachmentBlob(id));
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    // the browser has taken the URL once the click's task is over
    setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// The raster types a browser shows in <img>. SVG is left out: an uploaded
// one opened from its object URL in a tab of its own would run its script
// as this site.
export function isPreviewable(contentType: string): boolean {
    return /^image\/(png|jpeg|gif|webp|avif|bmp)$/i.test(contentType);
}

const sizeFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
export function formatSize(bytes: string | number): string {
    const n = Number(bytes);
    if (n < 1024) return `${sizeFormat.format(n)} B`;
    if (n < 1024 * 1024) return `${sizeFormat.format(n / 1024)} KiB`;
    return `${sizeFormat.format(n / 1024 / 1024)} MiB`;
}
