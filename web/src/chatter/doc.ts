// The documents that have a chatter (lead, customer, quotation): where each
// is shown, what it is called, and whose it is. The API gives a chatter's
// document as {model, id}; its name and salesperson come from pipeline.
import type { DocRef } from "../../gen/common";
import { pipeline } from "../api";

export type DocModel = "lead" | "customer" | "quotation";
export const docModels: readonly DocModel[] = ["lead", "customer", "quotation"];

export function isDocModel(m: string): m is DocModel {
    return (docModels as readonly string[]).includes(m);
}

// The document's own screen.
export function docPath(doc: DocRef): string {
    return `/${doc.model === "lead" ? "leads" : doc.model === "customer" ? "customers" : "quotations"}/${doc.id}`;
}

// The document's discussion, full page.
export function discussionPath(doc: DocRef): string {
    return `/chatter/${doc.model}/${doc.id}`;
}

export const modelNames: Record<DocModel, string> = { lead: "Lead", customer: "Customer", quotation: "Quotation" };

export type DocSummary = { name: string; salespersonId: string };

// The document's name and salesperson (a quotation's is its opportunity's:
// the API decides who may change its followers from that one).
// (The discussion page and its chatter ask at once: one call serves both.)
const asking = new Map<string, Promise<DocSummary>>();
export function loadDoc(model: DocModel, id: string): Promise<DocSummary> {
    const key = `${model}/${id}`;
    let got = asking.get(key);
    if (!got) {
        got = fetchDoc(model, id);
        asking.set(key, got);
        const forget = () => asking.delete(key);
        got.then(forget, forget);
    }
    return got;
}

async function fetchDoc(model: DocModel, id: string): Promise<DocSummary> {
    if (model === "lead") {
        const { response } = await pipeline.getLead({ id });
        return { name: response.name, salespersonId: response.salespersonId };
    }
    if (model === "customer") {
        const { response } = await pipeline.getCustomer({ id });
        return { name: response.name, salespersonId: response.salespersonId };
    }
    const { response: q } = await pipeline.getQuotation({ id });
    if (q.opportunityId === "0") return { name: q.name, salespersonId: "0" };
    const { response: lead } = await pipeline.getLead({ id: q.opportunityId });
    return { name: q.name, salespersonId: lead.salespersonId };
}
