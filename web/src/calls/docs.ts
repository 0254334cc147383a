// The names of the documents calls and meetings are about. Calls and
// calendar events carry only {model, id}; each document is asked for once
// (GetLead, GetCustomer, GetQuotation) and its name kept.
import { signal } from "@preact/signals";
import type { DocRef } from "../../gen/common";
import { pipeline } from "../api";

export const docNames = signal<ReadonlyMap<string, string>>(new Map());
const asked = new Set<string>();

export const docKey = (d: DocRef | undefined) => (d && d.model ? `${d.model}:${d.id}` : "");

const modelWords: Record<string, string> = { lead: "Lead", customer: "Customer", quotation: "Quotation" };

const modelPaths: Record<string, string> = { lead: "/leads/", customer: "/customers/", quotation: "/quotations/" };

// The screen that shows the document.
export function docPath(d: DocRef): string {
    return (modelPaths[d.model] ?? "/") + encodeURIComponent(d.id);
}

// The document's name, or its kind and number until (or if never) known.
export function docLabel(d: DocRef | undefined): string {
    if (!d || !d.model) return "";
    return docNames.value.get(docKey(d)) ?? `${modelWords[d.model] ?? d.model} ${d.id}`;
}

async function nameOf(d: DocRef): Promise<string> {
    if (d.model === "lead") return (await pipeline.getLead({ id: d.id })).response.name;
    if (d.model === "customer") return (await pipeline.getCustomer({ id: d.id })).response.name;
    return (await pipeline.getQuotation({ id: d.id })).response.name;
}

export async function loadDocNames(docs: Iterable<DocRef | undefined>): Promise<void> {
    const wanted = new Map<string, DocRef>();
    for (const d of docs) {
        const k = docKey(d);
        if (d && k && !asked.has(k)) wanted.set(k, d);
    }
    if (wanted.size === 0) return;
    wanted.forEach((_, k) => asked.add(k));
    const found = await Promise.allSettled([...wanted.values()].map(nameOf));
    const names = new Map(docNames.value);
    [...wanted.keys()].forEach((k, i) => {
        const r = found[i];
        // a document the user may not read keeps its kind and number
        if (r.status === "fulfilled") names.set(k, r.value);
    });
    docNames.value = names;
}

export function rememberDocName(d: DocRef, name: string): void {
    const k = docKey(d);
    asked.add(k);
    docNames.value = new Map(docNames.value).set(k, name);
}
