// The report's rows as the screen shows them: labels in words, an order a
// person expects, and money per currency (a row's totals; its single sums
// are 0 when its leads have several currencies).
import type { CurrencyTotal, ReportRow } from "../../gen/pipeline";
import { GroupBy } from "../../gen/pipeline";
import { compareNames } from "../format";
import { labelOf, statusLabels } from "../manage/labels";
import { LeadStatus } from "../../gen/pipeline";

export const groupings: [GroupBy, string][] = [
    [GroupBy.STAGE, "Stage"],
    [GroupBy.SALESPERSON, "Salesperson"],
    [GroupBy.EXPECTED_CLOSING_MONTH, "Expected closing month"],
    [GroupBy.TEAM, "Sales team"],
    [GroupBy.STATUS, "Status"],
];

export type Row = ReportRow;

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
    const out = rows.map((r) => ({ ...r, label: label(group, r) }));
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
        out.sort((a, b) => compareNames(a.label, b.label));
    return out;
}

// A row's money, one entry per currency (by code). A row with no totals
// (no leads with an amount) has its single sums, in no known currency.
export function moneyOf(r: Row): CurrencyTotal[] {
    if (r.totals.length > 0) return r.totals;
    return [{ currency: "", count: r.count, expectedRevenue: r.expectedRevenue, weightedRevenue: r.weightedRevenue }];
}

// The rows' money added up per currency, in integers (minor units).
export function totalsOf(rows: Row[]): CurrencyTotal[] {
    const sums = new Map<string, { count: bigint; expected: bigint; weighted: bigint }>();
    for (const r of rows)
        for (const t of moneyOf(r)) {
            const s = sums.get(t.currency) ?? { count: 0n, expected: 0n, weighted: 0n };
            s.count += BigInt(t.count);
            s.expected += BigInt(t.expectedRevenue);
            s.weighted += BigInt(t.weightedRevenue);
            sums.set(t.currency, s);
        }
    return [...sums].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([currency, s]) => ({
        currency, count: String(s.count), expectedRevenue: String(s.expected), weightedRevenue: String(s.weighted),
    }));
}

// The currency a chart draws (one scale cannot hold two): the one most of
// the rows' leads have.
export function chartCurrency(rows: Row[]): string {
    let best = "", most = -1n;
    for (const t of totalsOf(rows))
        if (BigInt(t.count) > most) [best, most] = [t.currency, BigInt(t.count)];
    return best;
}

// A row's sums in one currency, 0 where it has none of it.
export function inCurrency(r: Row, currency: string): CurrencyTotal | undefined {
    return moneyOf(r).find((t) => t.currency === currency);
}
