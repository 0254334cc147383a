// One stage of the board: a region named after the stage; its count, and
// expected and weighted revenue per currency (never one sum of several);
// a quick-create form (subject only); its cards, more of them loaded as
// the list is scrolled to its end ("Load more" does the same by hand).
// SortableJS moves cards between columns by mouse and touch; the move
// itself is the board's (onMove).
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import Sortable from "sortablejs";
import type { PipelineColumn, Stage } from "../gen/pipeline";
import { formatMoney } from "./format";
import { LeadCard } from "./LeadCard";
import { Field, FormAlert, failure, type FormError } from "./ui/form";

type Props = {
    column: PipelineColumn;
    stages: Stage[];
    tagNames: ReadonlyMap<string, string>;
    onMove: (leadId: string, toStageId: string) => void;
    onLoadMore: (stageId: string) => Promise<void>;
    onCreate: (stageId: string, name: string) => Promise<void>;
    onDragging: (dragging: boolean) => void;
};

const plural = new Intl.PluralRules("en");

export function KanbanColumn({ column, stages, tagNames, onMove, onLoadMore, onCreate, onDragging }: Props) {
    const list = useRef<HTMLUListElement>(null);
    const more = useRef<HTMLButtonElement>(null);
    const handlers = useRef({ onMove, onDragging });
    handlers.current = { onMove, onDragging };
    const loading = useSignal(false);
    const loadError = useSignal("");
    const subject = useSignal("");
    const createError = useSignal<FormError>(null);
    const creating = useSignal(false);
    const stage = column.stage!;

    useEffect(() => {
        if (!list.current) return;
        const sortable = Sortable.create(list.current, {
            group: "pipeline",
            // no slide on drop: its 150 ms of work on the page's thread
            // delayed the server's card by as much (tests/bench/README.md)
            animation: 0,
            // mouse and touch alike through pointer events, rather than
            // HTML5 drag and drop which touch screens lack
            forceFallback: true,
            fallbackTolerance: 3,
            filter: "select, .card-move",
            preventOnFilter: false,
            dataIdAttr: "data-lead-id",
            draggable: ".card",
            onStart() {
                handlers.current.onDragging(true);
            },
            onEnd(ev) {
                handlers.current.onDragging(false);
                const to = ev.to.closest("[data-stage-id]")?.getAttribute("data-stage-id");
                const id = ev.item.getAttribute("data-lead-id");
                // Preact owns the DOM: put the card back where it was and let
                // the board's state move it
                if (ev.from !== ev.to || ev.oldIndex !== ev.newIndex) {
                    ev.from.insertBefore(ev.item, ev.from.children[ev.oldIndex ?? 0] ?? null);
                }
                if (to && id && ev.from !== ev.to) handlers.current.onMove(id, to);
            },
        });
        return () => sortable.destroy();
    }, []);

    async function loadMore() {
        if (loading.value) return;
        loading.value = true;
        loadError.value = "";
        try {
            await onLoadMore(stage.id);
        } catch (e) {
            loadError.value = failure(e)?.message ?? "";
        } finally {
            loading.value = false;
        }
    }

    // the next page comes when "Load more" scrolls into view in the list
    const hasMore = column.nextPageToken !== "";
    useEffect(() => {
        if (!hasMore || !more.current || !list.current) return;
        const seen = new IntersectionObserver((entries) => {
            if (entries.some((e) => e.isIntersecting)) void loadMore();
        }, { root: list.current.parentElement, rootMargin: "200px" });
        seen.observe(more.current);
        return () => seen.disconnect();
    }, [hasMore, column.nextPageToken]);

    async function create(ev: Event) {
        ev.preventDefault();
        creating.value = true;
        createError.value = null;
        try {
            await onCreate(stage.id, subject.value);
            subject.value = "";
        } catch (e) {
            createError.value = failure(e);
        } finally {
            creating.value = false;
        }
    }

    const titleId = `stage-${stage.id}`;
    const inputId = `quick-${stage.id}`;
    return (
        <section class="column" role="region" aria-labelledby={titleId} data-stage-id={stage.id}>
            <header>
                <h2 id={titleId}>{stage.name}</h2>
                <p class="column-count"><span aria-label="Count">{column.count}</span> {plural.select(Number(column.count)) === "one" ? "opportunity" : "opportunities"}</p>
                <ul class="column-totals" aria-label="Totals">
                    {column.totals.map((t) => (
                        <li key={t.currency}>
                            <span aria-label={`Expected Revenue ${t.currency}`}>{formatMoney(t.expectedRevenue, t.currency)}</span>
                            {" · "}
                            <span class="column-weighted" aria-label={`Weighted Revenue ${t.currency}`}>
                                weighted {formatMoney(t.weightedRevenue, t.currency)}
                            </span>
                        </li>
                    ))}
                </ul>
            </header>
            <form class="quick-create" onSubmit={create} aria-label={`New opportunity in ${stage.name}`}>
                <Field id={inputId} label="Subject" name="name" error={createError.value}>
                    <input id={inputId} value={subject.value} aria-describedby={`${inputId}-error`} required
                           onInput={(ev) => (subject.value = (ev.target as HTMLInputElement).value)} />
                </Field>
                <button type="submit" disabled={creating.value}>Add</button>
                <FormAlert error={createError.value} fields={["name"]} />
            </form>
            <div class="column-scroll">
                <ul ref={list} class="cards" aria-label={`${stage.name} cards`}>
                    {column.leads.map((lead) => (
                        <LeadCard key={lead.id} lead={lead} stages={stages} tagNames={tagNames} onMove={onMove} />
                    ))}
                </ul>
                {hasMore && (
                    <button ref={more} type="button" class="load-more" onClick={loadMore} disabled={loading.value}>
                        {loading.value ? "Loading…" : "Load more"}
                    </button>
                )}
                {loadError.value && <p class="error" role="alert">{loadError.value}</p>}
            </div>
        </section>
    );
}
