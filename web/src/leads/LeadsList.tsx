// Leads and opportunities in one list with a switch between them (walkthrough
// 4), a search on name, contact, email and customer, and pages as the
// server cuts them (pageToken). An own-leads user gets from the server only
// their leads and unassigned ones.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ArchiveFilter, LeadType, type Lead, type Stage } from "../../gen/pipeline";
import { ArchiveFilterSelect } from "../archive/ArchiveFilterSelect";
import { errorText, isUnauthenticated, pipeline } from "../api";
import { formatMoney } from "../format";
import { navigate, search as address } from "../router";
import { currentUser } from "../session";
import { Pager, SearchForm, usePaging } from "../ui/list";
import { statusLabel } from "./labels";
import { MergeDialog } from "./MergeDialog";
import { ImportModel } from "../../gen/pipeline";
import { TransferTools } from "../transfer/TransferTools";

const PAGE_SIZE = 20;

export function LeadsList() {
    // the switch is the address's (?type=opportunity), so that a link or Back
    // to /leads shows the leads whatever was chosen before
    const type = new URLSearchParams(address.value).get("type") === "opportunity" ? LeadType.OPPORTUNITY : LeadType.LEAD;
    const archived = useSignal(ArchiveFilter.ACTIVE);
    const paging = usePaging(`${type}/${archived.value}`);
    const leads = useSignal<Lead[] | null>(null);
    const stages = useSignal<ReadonlyMap<string, Stage>>(new Map());
    const error = useSignal("");
    // the rows ticked for Merge, kept across pages and searches (by id)
    const selected = useSignal<ReadonlyMap<string, Lead>>(new Map());
    const merging = useSignal(false);

    useEffect(() => {
        let stale = false;
        leads.value = null;
        error.value = "";
        pipeline.listLeads({
            type, stageId: "0", teamId: "0", salespersonId: "0", customerId: "0", tagId: "0",
            query: paging.searched.value, pageSize: PAGE_SIZE, pageToken: paging.token, archived: archived.value,
        }).then(({ response }) => {
            if (stale) return;
            leads.value = response.leads;
            paging.next.value = response.nextPageToken;
        }).catch((e) => {
            if (isUnauthenticated(e)) currentUser.value = "signed-out";
            else if (!stale) error.value = errorText(e);
        });
        return () => void (stale = true);
    }, [type, paging.searched.value, paging.tokens, archived.value]);

    useEffect(() => {
        pipeline.listStages({ teamId: "0", type: 0 }).then(({ response }) => {
            stages.value = new Map(response.stages.map((s) => [s.id, s]));
        }).catch((e) => (error.value = errorText(e)));
    }, []);

    // team stages are not among the global ones: ask for those the page names
    useEffect(() => {
        const teams = new Set((leads.value ?? []).filter((l) => !stages.value.has(l.stageId)).map((l) => l.teamId));
        for (const teamId of teams)
            pipeline.listStages({ teamId, type: 0 }).then(({ response }) => {
                const m = new Map(stages.value);
                response.stages.forEach((s) => m.set(s.id, s));
                stages.value = m;
            }).catch((e) => (error.value = errorText(e)));
    }, [leads.value]);

    function choose(t: LeadType) {
        navigate(t === LeadType.OPPORTUNITY ? "/leads?type=opportunity" : "/leads", true);
    }

    function tick(l: Lead, on: boolean) {
        const m = new Map(selected.value);
        if (on) m.set(l.id, l);
        else m.delete(l.id);
        selected.value = m;
    }

    const opp = type === LeadType.OPPORTUNITY;
    const what = opp ? "opportunities" : "leads";
    return (
        <section class="leads-list" aria-labelledby="leads-title">
            <div class="leads-head">
                <h1 id="leads-title">{opp ? "Opportunities" : "Leads"}</h1>
                <a class="leads-new" href={opp ? "/leads/new?type=opportunity" : "/leads/new"}>New</a>
            </div>
            <TransferTools model={ImportModel.LEAD} what="leads and opportunities" file="leads.csv"
                onImported={() => paging.search(new Event("submit"))} />
            <div class="leads-tools">
                <div class="leads-switch" role="group" aria-label="Show">
                    <button type="button" aria-pressed={!opp} onClick={() => choose(LeadType.LEAD)}>Leads</button>
                    <button type="button" aria-pressed={opp} onClick={() => choose(LeadType.OPPORTUNITY)}>Opportunities</button>
                </div>
                <SearchForm id="leads-query" paging={paging} placeholder="Name, contact, email or customer" />
                <ArchiveFilterSelect id="leads-archived" value={archived.value} onChange={(v) => (archived.value = v)} />
                <button type="button" disabled={selected.value.size < 2 || selected.value.size > 10}
                    aria-describedby="leads-selected" onClick={() => (merging.value = true)}>Merge</button>
                <span id="leads-selected" role="status">
                    {selected.value.size === 0 ? "" : `${selected.value.size} selected${selected.value.size > 10 ? " (at most 10 merge at once)" : ""}`}
                </span>
            </div>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {leads.value === null ? <p role="status">Loading…</p> : leads.value.length === 0 ? (
                <p role="status">{paging.searched.value ? `No ${what} match “${paging.searched.value}”.` : `There are no ${what} yet.`}</p>
            ) : (
                <div class="leads-scroll" role="region" aria-label={opp ? "List of opportunities" : "List of leads"} tabIndex={0}>
                    <table class="leads-table">
                        <thead>
                            <tr>
                                <th scope="col"><span class="visually-hidden">Selected</span></th>
                                <th scope="col">Subject</th>
                                <th scope="col">Customer</th>
                                <th scope="col">Contact</th>
                                <th scope="col">Email</th>
                                <th scope="col">Stage</th>
                                <th scope="col">Status</th>
                                <th scope="col" class="num">Expected revenue</th>
                                <th scope="col">Salesperson</th>
                            </tr>
                        </thead>
                        <tbody>
                            {leads.value.map((l) => (
                                <tr key={l.id}>
                                    <td>
                                        <input type="checkbox" aria-label={`Select ${l.name}`} checked={selected.value.has(l.id)}
                                            onChange={(e) => tick(l, e.currentTarget.checked)} />
                                    </td>
                                    <th scope="row"><a href={`/leads/${l.id}`}>{l.name}</a>{l.archived && " (archived)"}</th>
                                    <td>{l.customerId !== "0" ? l.customerName : l.companyName}</td>
                                    <td>{l.contactName}</td>
                                    <td>{l.email}</td>
                                    <td>{stages.value.get(l.stageId)?.name ?? ""}</td>
                                    <td>{statusLabel[l.status]}</td>
                                    <td class="num">{formatMoney(l.expectedRevenue, l.currency)}</td>
                                    <td>{l.salespersonId !== "0" ? l.salespersonName : "Unassigned"}</td>
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </div>
            )}
            <Pager paging={paging} loading={leads.value === null} />
            {merging.value && (
                <MergeDialog leads={[...selected.value.values()]} onClose={() => {
                    merging.value = false;
                    selected.value = new Map();
                }} />
            )}
        </section>
    );
}
