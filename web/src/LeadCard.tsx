// One opportunity on the board: its subject (a link to the opportunity),
// customer, expected revenue, priority stars, salesperson, tags, its next
// planned activity (overdue in red, today in amber, both said in words) and
// the next action's date (overdue said in words, not only in red). By
// keyboard: Alt+Arrow Left/Right moves it to the previous or next stage,
// and "Move to stage" moves it anywhere; the board announces the move.
import { Priority, type Lead, type Stage } from "../gen/pipeline";
import { formatMoney } from "./format";
import { formatDay, isOverdue } from "./pipeline/dates";
import { nextActivities } from "./pipeline/nextActivities";
import { activityTitle, dueClass, dueText } from "./activities/types";

const priorityNames: Record<number, string> = {
    [Priority.LOW]: "Low", [Priority.NORMAL]: "Normal", [Priority.HIGH]: "High", [Priority.VERY_HIGH]: "Very high",
};

type Props = {
    lead: Lead;
    stages: Stage[];
    tagNames: ReadonlyMap<string, string>;
    onMove: (leadId: string, toStageId: string) => void;
};

export function LeadCard({ lead, stages, tagNames, onMove }: Props) {
    const customer = lead.customerName || lead.companyName;
    const priority = lead.priority || Priority.NORMAL;
    const overdue = isOverdue(lead.nextActionDate);
    const at = stages.findIndex((s) => s.id === lead.stageId);
    const planned = nextActivities.value.get(lead.id);
    const tags = lead.tagIds.map((id) => tagNames.get(id)).filter((n): n is string => !!n);

    function onKeyDown(ev: KeyboardEvent) {
        if (!ev.altKey || (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft")) return;
        const to = stages[at + (ev.key === "ArrowRight" ? 1 : -1)];
        ev.preventDefault();
        if (to) onMove(lead.id, to.id);
    }

    return (
        <li class="card" data-lead-id={lead.id} aria-labelledby={`lead-${lead.id}`} onKeyDown={onKeyDown}>
            <h3><a id={`lead-${lead.id}`} href={`/leads/${lead.id}`} aria-keyshortcuts="Alt+ArrowLeft Alt+ArrowRight">{lead.name}</a></h3>
            <p class="card-stars" role="img" aria-label={`Priority: ${priorityNames[priority] ?? "Normal"}`}>
                {"★".repeat(priority)}{"☆".repeat(4 - priority)}
            </p>
            <dl>
                {customer && (<><dt>Customer</dt><dd>{customer}</dd></>)}
                {lead.expectedRevenue !== "0" && (
                    <><dt>Expected Revenue</dt><dd>{formatMoney(lead.expectedRevenue, lead.currency)}</dd></>
                )}
                {lead.salespersonName && (<><dt>Salesperson</dt><dd>{lead.salespersonName}</dd></>)}
                {planned && (
                    <><dt>Next activity</dt>
                      <dd class={`card-${dueClass(planned.next)}`}>
                          {dueText(planned.next)}: {activityTitle(planned.next)}
                          {planned.count > 1 && <span class="card-more"> (+{planned.count - 1})</span>}
                      </dd></>
                )}
                {lead.nextActionDate && (
                    <><dt>Next Action</dt>
                      <dd class={overdue ? "card-overdue" : undefined}>
                          {overdue ? `Overdue: ${formatDay(lead.nextActionDate)}` : formatDay(lead.nextActionDate)}
                      </dd></>
                )}
            </dl>
            {tags.length > 0 && (
                <ul class="card-tags" aria-label="Tags">{tags.map((t) => <li key={t}>{t}</li>)}</ul>
            )}
            <label class="card-move">
                <span>Move to stage</span>
                <select value={lead.stageId} onChange={(ev) => {
                    const to = (ev.target as HTMLSelectElement).value;
                    if (to !== lead.stageId) onMove(lead.id, to);
                }}>
                    {stages.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
                </select>
            </label>
        </li>
    );
}
