// The Pipeline: the kanban of a team, one column per stage. A card dropped
// on another column (or moved by keyboard) moves at once (optimistic) and
// UpdateLead makes it so; if the server refuses, the card goes back and the
// server's words are shown. The board asks every second, while the page is
// visible, whether its version moved (a cheap GetPipeline with
// knownVersion), so a card moved by someone else moves here too.
import { loadNextActivities } from "./pipeline/nextActivities";
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { Team, User } from "../gen/identity";
import {
    CreateLeadRequest, GetPipelineRequest, LeadType, UpdateLeadRequest,
    type PipelineColumn, type Tag,
} from "../gen/pipeline";
import { seesAllLeads, isManager } from "./access";
import { errorText, identity, isUnauthenticated, pipeline } from "./api";
import { KanbanColumn } from "./KanbanColumn";
import { cardsShown, findLead, moved, settled, withPage } from "./pipeline/board";
import { BoardFilters, type Filters } from "./pipeline/BoardFilters";
import { byName } from "./format";
import { loadSalespeople } from "./leads/lookups";
import { currentUser } from "./session";

const PAGE = 20;          // cards a column shows first, and per page after
const POLL_MS = 1000;     // how often the board asks whether it changed

export function PipelineBoard({ user }: { user: User }) {
    const columns = useSignal<PipelineColumn[] | null>(null);
    const error = useSignal("");      // a move's, until the next move
    const readError = useSignal("");  // reading the board's, until a read succeeds
    const announce = useSignal("");
    const teams = useSignal<Team[]>([]);
    const people = useSignal<User[]>([]);
    const tags = useSignal<Tag[]>([]);
    const filters = useSignal<Filters>({
        teamId: user.teamIds[0] ?? "0", mine: false, salespersonId: "", tagId: "", query: "",
    });
    const version = useRef("0");
    // every local change (a move, a page, new filters) bumps it: a read
    // begun before it is stale and dropped, rather than undoing the change
    const generation = useRef(0);
    // moves in flight and a drag under way: the poll does not repaint under them
    const busy = useRef(0);
    const polling = useRef(false);
    const focusAfter = useRef<string | null>(null);

    function failed(e: unknown, shown = readError) {
        if (isUnauthenticated(e)) currentUser.value = "signed-out";
        else shown.value = errorText(e);
    }

    function request(extra: Partial<GetPipelineRequest>): GetPipelineRequest {
        const f = filters.value;
        return GetPipelineRequest.create({
            teamId: f.teamId, type: LeadType.OPPORTUNITY,
            salespersonId: f.mine ? user.id : f.salespersonId || "0",
            tagId: f.tagId || "0", query: f.query.trim(), ...extra,
        });
    }

    async function load(cards: number) {
        const g = ++generation.current;
        try {
            const { response } = await pipeline.getPipeline(request({ cardsPerColumn: cards }));
            if (g !== generation.current) return;
            columns.value = response.columns;
            version.current = response.version;
            readError.value = "";
            void loadNextActivities(response.columns.flatMap((c) => c.leads.map((l) => l.id)));
        } catch (e) {
            if (g === generation.current) failed(e);
        }
    }

    async function poll() {
        if (document.hidden || busy.current > 0 || polling.current || columns.value === null) return;
        polling.current = true;
        const g = generation.current;
        try {
            const { response } = await pipeline.getPipeline(request({
                cardsPerColumn: cardsShown(columns.value, PAGE), knownVersion: version.current,
            }));
            if (g !== generation.current || busy.current > 0 || response.unchanged) return;
            columns.value = response.columns;
            void loadNextActivities(response.columns.flatMap((c) => c.leads.map((l) => l.id)));
            version.current = response.version;
            readError.value = "";
        } catch (e) {
            failed(e);
        } finally {
            polling.current = false;
        }
    }

    // teams, salespeople and tags for the filters, once
    useEffect(() => {
        identity.listTeams({ includeArchived: false }).then(({ response }) => {
            const mine = isManager(user) ? response.teams : response.teams.filter((t) => user.teamIds.includes(t.id));
            const list = [...mine].sort(byName);
            // a manager may look at the leads of no team as well
            if (isManager(user)) list.push({ id: "0", name: "No team", leaderId: "0", memberIds: [], createdAt: "0", updatedAt: "0", archived: false });
            teams.value = list;
            if (filters.value.teamId === "0" && list.length > 0 && list[0].id !== "0")
                filters.value = { ...filters.value, teamId: list[0].id };
        }).catch(failed);
        pipeline.listTags({}).then(({ response }) => (tags.value = [...response.tags].sort(byName))).catch(failed);
        if (seesAllLeads(user)) loadSalespeople().then((p) => (people.value = p)).catch(failed);
    }, []);

    // the board again for new filters; typing in Search waits for a pause
    const f = filters.value;
    const key = JSON.stringify(f);
    useEffect(() => {
        const timer = setTimeout(() => void load(PAGE), f.query ? 250 : 0);
        return () => clearTimeout(timer);
    }, [key]);

    useEffect(() => {
        const timer = setInterval(() => void poll(), POLL_MS);
        const visible = () => { if (!document.hidden) void poll(); };
        document.addEventListener("visibilitychange", visible);
        return () => {
            clearInterval(timer);
            document.removeEventListener("visibilitychange", visible);
        };
    }, []);

    // a card moved by keyboard keeps the focus in its new column
    useEffect(() => {
        if (!focusAfter.current) return;
        const link = document.getElementById(`lead-${focusAfter.current}`);
        if (link && document.activeElement !== link) link.focus();
        focusAfter.current = null;
    });

    async function move(leadId: string, toStageId: string) {
        const now = columns.value;
        const lead = now && findLead(now, leadId);
        const to = now?.find((c) => c.stage?.id === toStageId)?.stage;
        if (!now || !lead || !to || lead.stageId === toStageId) return;
        const fromStageId = lead.stageId;
        generation.current++;
        busy.current++;
        columns.value = moved(now, leadId, toStageId);
        focusAfter.current = leadId;
        error.value = "";
        try {
            const { response } = await pipeline.updateLead(UpdateLeadRequest.create({
                id: leadId, stageId: toStageId, updateMask: { paths: ["stage_id"] },
            }));
            if (columns.value) columns.value = settled(columns.value, response);
            // for the board's benchmark: when a move has its server's card (User Timing)
            performance.mark("pipeline:move-settled");
            announce.value = `Moved “${lead.name}” to ${to.name}.`;
        } catch (e) {
            // back where it was; other moves made meanwhile stay
            if (columns.value) columns.value = moved(columns.value, leadId, fromStageId);
            focusAfter.current = leadId;
            failed(e, error);
        } finally {
            busy.current--;
        }
        // the rest of the server's truth (others' changes, the order of the
        // column) comes with the next poll: the move moved the version
    }

    async function loadMore(stageId: string) {
        const col = columns.value?.find((c) => c.stage?.id === stageId);
        if (!col?.nextPageToken) return;
        const g = ++generation.current;
        const { response } = await pipeline.getPipeline(request({
            stageId, pageToken: col.nextPageToken, cardsPerColumn: PAGE,
        }));
        if (g !== generation.current || !columns.value || response.columns.length !== 1) return;
        columns.value = withPage(columns.value, response.columns[0]);
    }

    async function create(stageId: string, name: string) {
        const lead = (await pipeline.createLead(CreateLeadRequest.create({
            type: LeadType.OPPORTUNITY, name, stageId, teamId: filters.value.teamId, salespersonId: user.id,
        }))).response;
        const stage = columns.value?.find((c) => c.stage?.id === lead.stageId)?.stage;
        announce.value = `Added “${lead.name}” to ${stage?.name ?? "the board"}.`;
        await load(cardsShown(columns.value, PAGE));
    }

    const stages = (columns.value ?? []).flatMap((c) => (c.stage ? [c.stage] : []));
    const tagNames = new Map(tags.value.map((t) => [t.id, t.name]));
    return (
        <section class="board" aria-labelledby="board-title">
            <h1 id="board-title">Pipeline</h1>
            <BoardFilters filters={f} teams={teams.value} people={people.value} tags={tags.value}
                          canPickPerson={seesAllLeads(user)} onChange={(next) => (filters.value = next)} />
            <p class="board-live" role="status" aria-live="polite">{announce.value}</p>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {readError.value && <p class="error" role="alert">{readError.value}</p>}
            {columns.value === null
                ? <p role="status">Loading…</p>
                // scrolls sideways: a tab stop, so that the keyboard can scroll it too
                : <div class="columns" role="group" aria-label="Stages" tabIndex={0}>
                    {columns.value.map((c) => (
                        <KanbanColumn key={c.stage?.id} column={c} stages={stages} tagNames={tagNames}
                                      onMove={move} onLoadMore={loadMore} onCreate={create}
                                      onDragging={(on) => { busy.current += on ? 1 : -1; }} />
                    ))}
                  </div>}
        </section>
    );
}
