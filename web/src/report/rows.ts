// The report's rows as the screen shows them: labels in words, an order a
// person expects, and the currency when the rows carry one (today's
// ReportRow has none; per-currency totals are being added to the API).
import type { ReportRow } from "../../gen/pipeline";
import { GroupBy } from "../../gen/pipeline";
import { byName, labelOf, statusLabels } from "../manage/labels";
import { LeadStatus } from "../../gen/pipeline";

export const groupings: [GroupBy, string][] = [
    [GroupBy.STAGE, "Stage"],
    [GroupBy.SALESPERSON, "Salesperson"],
    [GroupBy.EXPECTED_CLOSING_MONTH, "Expected closing month"],
    [GroupBy.TEAM, "Sales team"],
    [GroupBy.STATUS, "Status"],
];

export type Row = ReportRow & { currency: string };

const month = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", timeZone: "UTC" });

function label(group: GroupBy, r: ReportRow): string {
    if (group === GroupBy.STATUS) {
        const name = r.key.replace(/^LEAD_STATUS_/, "") as keyof typeof LeadStatus;
        return labelOf(statusLabels, LeadStatus[name]) || r.label;
    }
    if (group === GroupBy.EXPECTED_CLOSING_MONTH && /^\d{4}-\d{2}$/.test(r.key))
        return month.format(new Date(`${r.key}-01T00:00:00Z`));
    return r.label;
}

// stageIds: the board's order of stages, for rows grouped by stage; a
// stage it lacks (another team's) keeps the server's place, after them
export function shown(group: GroupBy, rows: ReportRow[], stageIds: string[]): Row[] {
    const out = rows.map((r) => {
        const currency = (r as ReportRow & { currency?: unknown }).currency;
        return { ...r, label: label(group, r), currency: typeof currency === "string" ? currency : "" };
    });
    // months by date ("No date" last); people and teams by name in the
    // user's language
    if (group === GroupBy.STAGE) {
        const place = (key: string) => {
            const i = stageIds.indexOf(key);
            return i < 0 ? stageIds.length : i;
        };
        out.sort((a, b) => place(a.key) - place(b.key));
    } else if (group === GroupBy.EXPECTED_CLOSING_MONTH)
        out.sort((a, b) => (a.key === "" ? 1 : b.key === "" ? -1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    else if (group === GroupBy.SALESPERSON || group === GroupBy.TEAM)
        out.sort((a, b) => byName(a.label, b.label));
    return out;
}

// The currency of a set of rows: theirs when they agree, else none.
export function commonCurrency(rows: Row[]): string {
    const set = new Set(rows.map((r) => r.currency));
    return set.size === 1 ? [...set][0] : "";
}
