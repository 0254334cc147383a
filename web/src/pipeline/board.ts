// The board's state changes that do not need the board read again: a card
// moved between columns (the optimistic part of a move), then the server's
// card in its place; a column's next page added.
import type { CurrencyTotal, Lead, PipelineColumn } from "../../gen/pipeline";

function weighted(lead: Lead): bigint {
    return (BigInt(lead.expectedRevenue) * BigInt(lead.probability)) / 100n;
}

// The column's totals with one lead added (sign 1) or taken away (-1),
// in the lead's currency; a currency left with no lead goes.
function adjust(totals: CurrencyTotal[], lead: Lead, sign: 1n | -1n): CurrencyTotal[] {
    const at = totals.findIndex((t) => t.currency === lead.currency);
    const base: CurrencyTotal = at >= 0 ? totals[at]
        : { currency: lead.currency, count: "0", expectedRevenue: "0", weightedRevenue: "0" };
    const next: CurrencyTotal = {
        currency: lead.currency,
        count: String(BigInt(base.count) + sign),
        expectedRevenue: String(BigInt(base.expectedRevenue) + sign * BigInt(lead.expectedRevenue)),
        weightedRevenue: String(BigInt(base.weightedRevenue) + sign * weighted(lead)),
    };
    const rest = totals.filter((_, i) => i !== at);
    if (next.count === "0") return rest;
    return [...rest, next].sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
}

// The single sums the API gives: those of the one currency, 0 when mixed.
function withTotals(c: PipelineColumn, totals: CurrencyTotal[], count: bigint): PipelineColumn {
    const one = totals.length === 1 ? totals[0] : undefined;
    return { ...c, totals, count: String(count),
             expectedRevenue: one?.expectedRevenue ?? "0", weightedRevenue: one?.weightedRevenue ?? "0" };
}

export function findLead(columns: PipelineColumn[], leadId: string): Lead | undefined {
    for (const c of columns) {
        const l = c.leads.find((l) => l.id === leadId);
        if (l) return l;
    }
    return undefined;
}

// The board with the server's lead in place of the card of the same id in
// the lead's stage, that column's totals moved with it (a new stage's
// probability changes its weighted revenue); unchanged when the card is not
// there (moved again meanwhile: the later move settles it).
export function settled(columns: PipelineColumn[], lead: Lead): PipelineColumn[] {
    return columns.map((c) => {
        if (c.stage?.id !== lead.stageId) return c;
        const at = c.leads.findIndex((l) => l.id === lead.id);
        if (at < 0) return c;
        const totals = adjust(adjust(c.totals, c.leads[at], -1n), lead, 1n);
        return { ...withTotals(c, totals, BigInt(c.count)), leads: c.leads.map((l, i) => (i === at ? lead : l)) };
    });
}

// The board with lead moved to the top of stage toStageId, counts and
// per-currency totals of both columns included.
export function moved(columns: PipelineColumn[], leadId: string, toStageId: string): PipelineColumn[] {
    const from = columns.find((c) => c.leads.some((l) => l.id === leadId));
    const lead = from?.leads.find((l) => l.id === leadId);
    if (!from || !lead || from.stage?.id === toStageId) return columns;
    return columns.map((c) => {
        if (c === from)
            return { ...withTotals(c, adjust(c.totals, lead, -1n), BigInt(c.count) - 1n),
                     leads: c.leads.filter((l) => l.id !== leadId) };
        if (c.stage?.id === toStageId)
            return { ...withTotals(c, adjust(c.totals, lead, 1n), BigInt(c.count) + 1n),
                     leads: [{ ...lead, stageId: toStageId }, ...c.leads] };
        return c;
    });
}

// The board with a column's next page: its cards after those shown (a
// card already shown, moved meanwhile, is not shown twice), and its
// totals as of this read.
export function withPage(columns: PipelineColumn[], page: PipelineColumn): PipelineColumn[] {
    return columns.map((c) => {
        if (c.stage?.id !== page.stage?.id) return c;
        const shown = new Set(c.leads.map((l) => l.id));
        return { ...page, leads: [...c.leads, ...page.leads.filter((l) => !shown.has(l.id))] };
    });
}

// How many cards to ask per column when the whole board is read again, so
// that pages loaded by scrolling stay loaded (the API gives at most 200).
export function cardsShown(columns: PipelineColumn[] | null, page: number): number {
    const most = Math.max(page, ...(columns ?? []).map((c) => c.leads.length));
    return Math.min(200, most);
}
