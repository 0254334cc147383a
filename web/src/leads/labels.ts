// The words the walkthrough uses for a lead's enums, and the helpers that
// turn a form's draft into an update of the fields that changed.
import { LeadStatus, LeadType, Priority } from "../../gen/pipeline";

export const statusLabel: Record<LeadStatus, string> = {
    [LeadStatus.UNSPECIFIED]: "New",
    [LeadStatus.NEW]: "New",
    [LeadStatus.IN_PROGRESS]: "In progress",
    [LeadStatus.PENDING]: "Pending",
    [LeadStatus.WON]: "Won",
    [LeadStatus.LOST]: "Lost",
};

export const priorityLabel: [Priority, string][] = [
    [Priority.LOW, "Low"],
    [Priority.NORMAL, "Normal"],
    [Priority.HIGH, "High"],
    [Priority.VERY_HIGH, "Very high"],
];

// LEAD_TYPE_UNSPECIFIED is a lead, as the server reads it.
export const isOpportunity = (t: LeadType) => t === LeadType.OPPORTUNITY;

// "expectedRevenue" → "expected_revenue": an update mask names proto fields.
export const maskPath = (jsonName: string) => jsonName.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

// The JSON names of the fields in which draft differs from saved.
export function changedFields<T extends object>(saved: T, draft: T, fields: readonly (keyof T & string)[]): (keyof T & string)[] {
    return fields.filter((f) => JSON.stringify(saved[f]) !== JSON.stringify(draft[f]));
}

// The draft on top of a new saved record: the fields the person has not
// touched take the server's new values, the edited ones stay as typed.
export function rebase<T extends object>(draft: T, oldSaved: T, newSaved: T): T {
    const out = { ...newSaved };
    for (const k of Object.keys(draft) as (keyof T)[])
        if (JSON.stringify(draft[k]) !== JSON.stringify(oldSaved[k])) out[k] = draft[k];
    return out;
}
