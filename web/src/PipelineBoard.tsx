// The Pipeline: the kanban of the user's team, one column per stage. A
// card dropped on another column moves at once (optimistic) and UpdateLead
// makes it so; if the server refuses, the board goes back to what it was
// and shows the server's words.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { User } from "../gen/identity";
import type { PipelineColumn } from "../gen/pipeline";
import { errorText, isUnauthenticated, pipeline } from "./api";
import { KanbanColumn } from "./KanbanColumn";
import { loadCustomerNames, loadUserNames } from "./names";
import { currentUser } from "./session";

const CARDS_PER_COLUMN = 50;

// The board with lead moved to stage toStageId, counts and totals included.
function moved(columns: PipelineColumn[], leadId: string, toStageId: string): PipelineColumn[] {
    const from = columns.find((c) => c.leads.some((l) => l.id === leadId));
    const lead = from?.leads.find((l) => l.id === leadId);
    if (!from || !lead) return columns;
    const revenue = BigInt(lead.expectedRevenue);
    return columns.map((c) => {
        if (c === from)
            return { ...c, count: String(BigInt(c.count) - 1n),
                     expectedRevenue: String(BigInt(c.expectedRevenue) - revenue),
                     leads: c.leads.filter((l) => l.id !== leadId) };
        if (c.stage?.id === toStageId)
            return { ...c, count: String(BigInt(c.count) + 1n),
                     expectedRevenue: String(BigInt(c.expectedRevenue) + revenue),
                     leads: [{ ...lead, stageId: toStageId }, ...c.leads] };
        return c;
    });
}

export function PipelineBoard({ user }: { user: User }) {
    const columns = useSignal<PipelineColumn[] | null>(null);
    const error = useSignal("");
    const teamId = user.teamIds[0] ?? "0";

    async function load() {
        try {
            const { response } = await pipeline.getPipeline({
                teamId, type: 0, salespersonId: "0", cardsPerColumn: CARDS_PER_COLUMN,
            });
            columns.value = response.columns;
            void loadCustomerNames(response.columns.flatMap((c) => c.leads.map((l) => l.customerId)));
        } catch (e) {
            if (isUnauthenticated(e)) currentUser.value = "signed-out";
            else error.value = errorText(e);
        }
    }

    useEffect(() => {
        void load();
        loadUserNames().catch((e) => (error.value = errorText(e)));
    }, [teamId]);

    async function move(leadId: string, toStageId: string) {
        const before = columns.value;
        if (!before) return;
        columns.value = moved(before, leadId, toStageId);
        error.value = "";
        try {
            await pipeline.updateLead({
                id: leadId, stageId: toStageId, updateMask: { paths: ["stage_id"] },
                type: 0, name: "", expectedRevenue: "0", currency: "", probability: 0, customerId: "0",
                contactName: "", function: "", email: "", phone: "", nextAction: "", nextActionDate: "",
                expectedClosing: "", priority: 0, tagIds: [], teamId: "0", salespersonId: "0", referredBy: "",
                internalNotes: "", companyName: "",
            });
            await load(); // the server's totals and order are the truth
        } catch (e) {
            columns.value = before;
            if (isUnauthenticated(e)) currentUser.value = "signed-out";
            else error.value = errorText(e);
        }
    }

    return (
        <section class="board" aria-labelledby="board-title">
            <h1 id="board-title">Pipeline</h1>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {columns.value === null
                ? <p role="status">Loading…</p>
                // scrolls sideways: a tab stop, so that the keyboard can scroll it too
                : <div class="columns" role="group" aria-label="Stages" tabIndex={0}>
                    {columns.value.map((c) => <KanbanColumn key={c.stage?.id} column={c} onMove={move} />)}
                  </div>}
        </section>
    );
}
