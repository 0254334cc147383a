// One stage of the board: a region named after the stage, its count and
// expected revenue, its cards. SortableJS moves cards between columns (by
// mouse and by touch); the move itself is the board's (onMove).
import { useEffect, useRef } from "preact/hooks";
import Sortable from "sortablejs";
import type { PipelineColumn } from "../gen/pipeline";
import { formatMoney } from "./format";
import { LeadCard } from "./LeadCard";

type Props = {
    column: PipelineColumn;
    onMove: (leadId: string, toStageId: string) => void;
};

// The column's currency when all its cards agree; else none (the API does
// not yet say which currency a column's total is in: issue 14).
function columnCurrency(column: PipelineColumn): string {
    const currencies = new Set(column.leads.map((l) => l.currency));
    return currencies.size === 1 ? [...currencies][0] : "";
}

export function KanbanColumn({ column, onMove }: Props) {
    const list = useRef<HTMLUListElement>(null);
    const move = useRef(onMove);
    move.current = onMove;
    const stage = column.stage!;

    useEffect(() => {
        if (!list.current) return;
        const sortable = Sortable.create(list.current, {
            group: "pipeline",
            animation: 150,
            // mouse and touch alike through pointer events, rather than
            // HTML5 drag and drop which touch screens lack
            forceFallback: true,
            fallbackTolerance: 3,
            dataIdAttr: "data-lead-id",
            onEnd(ev) {
                const to = ev.to.closest("[data-stage-id]")?.getAttribute("data-stage-id");
                const id = ev.item.getAttribute("data-lead-id");
                // Preact owns the DOM: put the card back where it was and let
                // the board's state move it
                if (ev.from !== ev.to || ev.oldIndex !== ev.newIndex) {
                    ev.from.insertBefore(ev.item, ev.from.children[ev.oldIndex ?? 0] ?? null);
                }
                if (to && id && ev.from !== ev.to) move.current(id, to);
            },
        });
        return () => sortable.destroy();
    }, []);

    const titleId = `stage-${stage.id}`;
    return (
        <section class="column" role="region" aria-labelledby={titleId} data-stage-id={stage.id}>
            <header>
                <h2 id={titleId}>{stage.name}</h2>
                <p class="totals">
                    <span aria-label="Count">{column.count}</span>
                    {" · "}
                    <span aria-label="Expected Revenue">{formatMoney(column.expectedRevenue, columnCurrency(column))}</span>
                </p>
            </header>
            <ul ref={list} class="cards" aria-label={`${stage.name} cards`}>
                {column.leads.map((lead) => <LeadCard key={lead.id} lead={lead} />)}
            </ul>
        </section>
    );
}
