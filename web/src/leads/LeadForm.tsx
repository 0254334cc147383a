// A lead or an opportunity (walkthrough 4, 5, 10-13): its stage as a bar of
// the team's stages, its status, every field the walkthrough names, and the
// actions on it: Convert to opportunity, Mark won, Mark lost, Make
// quotation. Save sends the changed fields only (an update mask), so that
// nothing another person changed meanwhile is written back. The chatter
// is beside it.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Team, User } from "../../gen/identity";
import {
    CreateLeadRequest, ImportModel, Lead, LeadStatus, LeadType, Priority, UpdateLeadRequest,
    type Quotation, type Stage, type Tag,
} from "../../gen/pipeline";
import { errorText, isUnauthenticated, pipeline } from "../api";
import { isManager } from "../access";
import { RecordActions } from "../archive/RecordActions";
import { Chatter } from "../chatter/Chatter";
import { CustomerSelect } from "../customers/CustomerSelect";
import { formatDateTime, formatMoney, majorText, minorDigits, minorUnits } from "../format";
import { navigate } from "../router";
import { currentUser } from "../session";
import { Field, FormAlert, failure, submitting, type FormError } from "../ui/form";
import { SalespersonSelect, TeamSelect } from "../ui/people";
import { ConvertDialog } from "./ConvertDialog";
import { changedFields, isOpportunity, maskPath, priorityLabel, rebase, statusLabel } from "./labels";
import { LostDialog } from "./LostDialog";
import { PossibleDuplicates } from "./PossibleDuplicates";
import { loadLostReasons, loadSalespeople, loadTags, loadTeams } from "./lookups";
import { StageBar } from "./StageBar";

// The fields this form edits, by JSON name (the names errors come back with).
const FIELDS = [
    "name", "expectedRevenue", "currency", "probability", "customerId", "companyName", "contactName", "function",
    "email", "phone", "nextAction", "nextActionDate", "expectedClosing", "priority", "tagIds", "teamId",
    "salespersonId", "referredBy", "internalNotes",
] as const satisfies readonly (keyof Lead)[];

type Props = { user: User; id: string };

// A new lead as /leads/new?type=opportunity&customer=12 asks for it: the
// customer filled in when it is made from the customer (walkthrough 5).
function blankLead(user: User): Lead {
    const q = new URLSearchParams(location.search);
    return Lead.create({
        type: q.get("type") === "opportunity" ? LeadType.OPPORTUNITY : LeadType.LEAD,
        customerId: /^\d+$/.test(q.get("customer") ?? "") ? q.get("customer")! : "0",
        priority: Priority.NORMAL,
        salespersonId: user.id,
        teamId: user.defaultTeamId !== "0" ? user.defaultTeamId : user.teamIds[0] ?? "0",
    });
}

export function LeadForm({ user, id }: Props) {
    const isNew = id === "new";
    const saved = useSignal<Lead | null>(null);
    const draft = useSignal<Lead | null>(null);
    const revenue = useSignal("");              // the amount as typed, in major units
    const loadError = useSignal("");
    const error = useSignal<FormError>(null);
    const notice = useSignal("");
    const busy = useSignal(false);
    const dialog = useSignal<"lost" | "convert" | null>(null);
    const stages = useSignal<Stage[]>([]);
    const tags = useSignal<Tag[]>([]);
    const people = useSignal<User[]>([]);
    const teams = useSignal<Team[]>([]);
    const lostReason = useSignal("");
    const quotations = useSignal<Quotation[]>([]);
    const chatterVersion = useSignal(0);

    function fail(e: unknown) {
        error.value = failure(e);
    }

    useEffect(() => {
        saved.value = draft.value = null;
        loadError.value = notice.value = "";
        error.value = null;
        if (isNew) {
            const l = blankLead(user);
            draft.value = l;
            revenue.value = "";
        } else {
            pipeline.getLead({ id })
                .then(({ response }) => show(response))
                .catch((e) => isUnauthenticated(e) ? (currentUser.value = "signed-out") : (loadError.value = errorText(e)));
        }
        Promise.all([loadTags(), loadSalespeople(), loadTeams()])
            .then(([t, p, tm]) => {
                tags.value = t;
                people.value = p;
                teams.value = tm;
            })
            .catch(fail);
    }, [id]);

    // the stages of the lead's team and type, the lost reason's name, its quotations
    const loaded = saved.value;
    const stageKey = loaded ? `${loaded.teamId}/${loaded.type}` : "";
    useEffect(() => {
        if (!loaded) return;
        // a reply for the team the lead had before its last save is dropped
        let stale = false;
        pipeline.listStages({ teamId: loaded.teamId, type: isOpportunity(loaded.type) ? LeadType.OPPORTUNITY : LeadType.LEAD })
            .then(({ response }) => void (stale || (stages.value = response.stages)))
            .catch(fail);
        return () => void (stale = true);
    }, [stageKey]);
    useEffect(() => {
        if (!loaded || loaded.lostReasonId === "0") return void (lostReason.value = "");
        loadLostReasons().then((r) => (lostReason.value = r.find((x) => x.id === loaded.lostReasonId)?.name ?? "")).catch(fail);
    }, [loaded?.lostReasonId]);
    useEffect(() => {
        if (!loaded || !isOpportunity(loaded.type)) return;
        let stale = false;
        pipeline.listQuotations({ customerId: "0", opportunityId: loaded.id, pageSize: 50, pageToken: "" })
            .then(({ response }) => void (stale || (quotations.value = response.quotations)))
            .catch(fail);
        return () => void (stale = true);
    }, [loaded?.id, loaded?.status]);

    // The server's lead, with what the person typed and has not saved kept.
    function show(l: Lead) {
        const before = saved.value;
        if (before && draft.value) {
            const typed = revenue.value;
            draft.value = rebase(draft.value, before, l);
            revenue.value = typed === majorText(before.expectedRevenue, before.currency) ? majorText(l.expectedRevenue, l.currency) : typed;
        } else {
            draft.value = l;
            revenue.value = majorText(l.expectedRevenue, l.currency);
        }
        saved.value = l;
        chatterVersion.value++;
    }

    function set<K extends keyof Lead>(k: K, v: Lead[K]) {
        if (draft.value) draft.value = { ...draft.value, [k]: v };
        notice.value = "";
    }

    // The draft with the amount as minor units, or an error under the field.
    function withRevenue(d: Lead): Lead | null {
        const minor = minorUnits(revenue.value, d.currency || "EUR");
        if (minor === null) {
            error.value = {
                field: "expectedRevenue",
                message: `Expected revenue must be a number with at most ${minorDigits(d.currency || "EUR")} decimals`,
            };
            return null;
        }
        return { ...d, expectedRevenue: minor };
    }

    async function save(ev: Event) {
        ev.preventDefault();
        if (!draft.value) return;
        error.value = null;
        notice.value = "";
        const d = withRevenue(draft.value);
        if (!d) return;
        busy.value = true;
        try {
            if (isNew) {
                const { response } = await pipeline.createLead(CreateLeadRequest.create({ ...d, stageId: "0" }));
                navigate(`/leads/${response.id}`, true);
                return;
            }
            const before = saved.value!;
            const changed = changedFields(before, d, FIELDS);
            if (changed.length === 0) {
                notice.value = "Nothing to save: no field has changed.";
                return;
            }
            const { response } = await pipeline.updateLead(UpdateLeadRequest.create({
                ...d, id: before.id, stageId: "0", updateMask: { paths: changed.map(maskPath) },
            }));
            draft.value = response;
            revenue.value = majorText(response.expectedRevenue, response.currency);
            saved.value = response;
            chatterVersion.value++;
            notice.value = "Saved.";
        } catch (e) {
            fail(e);
        } finally {
            busy.value = false;
        }
    }

    async function act(run: () => Promise<Lead>) {
        notice.value = "";
        await submitting(busy, error, async () => show(await run()));
    }

    const chooseStage = (stageId: string) => act(async () => (await pipeline.updateLead(UpdateLeadRequest.create({
        id: saved.value!.id, stageId, updateMask: { paths: ["stage_id"] },
    }))).response);
    const markWon = () => act(async () => (await pipeline.markWon({ id: saved.value!.id })).response);
    const reopen = () => act(async () => (await pipeline.reopenLead({ id: saved.value!.id, stageId: "0" })).response);

    async function makeQuotation() {
        await submitting(busy, error, async () => {
            const { response } = await pipeline.makeQuotation({ opportunityId: saved.value!.id, markWon: true });
            navigate(`/quotations/${response.id}`);
        });
    }

    if (loadError.value) return (
        <section class="lead-page" aria-labelledby="lead-title">
            <h1 id="lead-title">Lead</h1>
            <p class="error" role="alert">{loadError.value}</p>
            <p><a href="/leads">Back to the leads</a></p>
        </section>
    );
    const d = draft.value;
    if (!d) return <p role="status">Loading…</p>;
    const s = saved.value;
    const opp = isOpportunity(d.type);
    const closed = s !== null && (s.status === LeadStatus.WON || s.status === LeadStatus.LOST);
    const kind = opp ? "Opportunity" : "Lead";
    const err = error.value;
    const stageName = s ? stages.value.find((x) => x.id === s.stageId)?.name ?? "" : "";

    // (preact types each input type apart; these four take the same props)
    const text = (field: (typeof FIELDS)[number] & keyof Lead, label: string, type: "text" | "email" | "tel" | "date" = "text") => (
        <Field id={`lead-${field}`} label={label} name={field} error={err}>
            <input id={`lead-${field}`} type={type as "text"} value={d[field] as string} aria-describedby={`lead-${field}-error`}
                onInput={(e) => set(field, e.currentTarget.value as never)} />
        </Field>
    );

    return (
        <div class="lead-page">
            <section class="lead-main" aria-labelledby="lead-title">
                <p class="lead-crumbs"><a href="/leads">Leads</a> / {kind}</p>
                <h1 id="lead-title">{s ? s.name : opp ? "New opportunity" : "New lead"}</h1>
                {s && (
                    <>
                        <StageBar stages={stages.value} current={s.stageId} busy={busy.value} onChoose={chooseStage} />
                        <p class={`lead-status lead-status-${statusLabel[s.status].toLowerCase().replace(" ", "-")}`} role="status">
                            <strong>Status: {statusLabel[s.status]}</strong>
                            {stageName && <> — set by the stage {stageName}</>}
                            {s.status === LeadStatus.WON && s.closedAt !== "0" && <>, won {formatDateTime(s.closedAt)}</>}
                            {s.status === LeadStatus.LOST && <>{s.closedAt !== "0" && <>, lost {formatDateTime(s.closedAt)}</>}
                                {lostReason.value && <> (lost reason: {lostReason.value})</>}</>}
                            {closed && <>. Choosing an open stage reopens it.</>}
                        </p>
                        <div class="lead-actions" role="group" aria-label="Actions">
                            {!opp && !closed && <button type="button" disabled={busy.value} onClick={() => (dialog.value = "convert")}>Convert to opportunity</button>}
                            {opp && !closed && <button type="button" disabled={busy.value} onClick={markWon}>Mark won</button>}
                            {!closed && <button type="button" disabled={busy.value} onClick={() => (dialog.value = "lost")}>Mark lost</button>}
                            {closed && <button type="button" disabled={busy.value} onClick={reopen}>Reopen</button>}
                            {opp && s.status !== LeadStatus.LOST && <button type="button" disabled={busy.value} onClick={makeQuotation}>Make quotation</button>}
                            {/* calls are made on the Calls screen, already on this document */}
                            <a class="lead-action-link" href={`/calls?lead=${encodeURIComponent(s.id)}&form=log`}>Log a call</a>
                            <a class="lead-action-link" href={`/calls?lead=${encodeURIComponent(s.id)}&form=schedule`}>Schedule a call</a>
                        </div>
                        <RecordActions idPrefix="lead-record" noun={opp ? "opportunity" : "lead"} name={s.name} archived={s.archived}
                            canChange canDelete={isManager(user)}
                            archive={async () => show((await pipeline.archiveLead({ id: s.id })).response)}
                            restore={async () => show((await pipeline.restoreLead({ id: s.id })).response)}
                            remove={async () => {
                                await pipeline.deleteLead({ id: s.id });
                                navigate(opp ? "/leads?type=opportunity" : "/leads", true);
                            }} />
                        {quotations.value.length > 0 && (
                            <p class="lead-quotations">Quotations: {quotations.value.map((q, i) => (
                                <span key={q.id}>{i > 0 && ", "}<a href={`/quotations/${q.id}`}>{q.name}</a> ({formatMoney(q.amount, q.currency)})</span>
                            ))}</p>
                        )}
                    </>
                )}
                <form class="lead-form" noValidate onSubmit={save} aria-label={kind}>
                    <div class="lead-grid">
                        {text("name", "Subject")}
                        {isNew && (
                            <div class="field">
                                <label for="lead-type">Type</label>
                                <select id="lead-type" value={String(d.type)}
                                    onChange={(e) => set("type", Number(e.currentTarget.value) as LeadType)}>
                                    <option value={LeadType.LEAD}>Lead</option>
                                    <option value={LeadType.OPPORTUNITY}>Opportunity</option>
                                </select>
                            </div>
                        )}
                        <Field id="lead-expectedRevenue" label="Expected revenue" name="expectedRevenue" error={err}>
                            <input id="lead-expectedRevenue" inputMode="decimal" value={revenue.value}
                                aria-describedby="lead-expectedRevenue-error" onInput={(e) => (revenue.value = e.currentTarget.value)} />
                        </Field>
                        <Field id="lead-currency" label="Currency" name="currency" error={err}>
                            <input id="lead-currency" value={d.currency} maxLength={3} autoCapitalize="characters"
                                placeholder="the company's" aria-describedby="lead-currency-error"
                                onInput={(e) => set("currency", e.currentTarget.value.toUpperCase())} />
                        </Field>
                        <Field id="lead-probability" label="Probability (%)" name="probability" error={err}>
                            <input id="lead-probability" type="number" step={1} value={String(d.probability)}
                                aria-describedby="lead-probability-error"
                                onInput={(e) => set("probability", e.currentTarget.value === "" ? 0 : Math.trunc(Number(e.currentTarget.value)))} />
                        </Field>
                        <Field id="lead-customerId" label="Customer" name="customerId" error={err}>
                            <CustomerSelect id="lead-customerId" value={d.customerId} noneLabel="No customer"
                                onChange={(v) => set("customerId", v)} />
                            {d.customerId !== "0" && <a href={`/customers/${d.customerId}`}>Open the customer</a>}
                        </Field>
                        {text("companyName", "Company name")}
                        {text("contactName", "Contact")}
                        {text("function", "Function (job title)")}
                        {text("email", "Email", "email")}
                        {text("phone", "Phone", "tel")}
                        {text("nextAction", "Next action")}
                        {text("nextActionDate", "Next action date", "date")}
                        {text("expectedClosing", "Expected closing", "date")}
                        <Field id="lead-priority" label="Priority" name="priority" error={err}>
                            <select id="lead-priority" value={String(d.priority || Priority.NORMAL)} aria-describedby="lead-priority-error"
                                onChange={(e) => set("priority", Number(e.currentTarget.value) as Priority)}>
                                {priorityLabel.map(([p, label]) => <option key={p} value={p}>{label}</option>)}
                            </select>
                        </Field>
                        <Field id="lead-salespersonId" label="Salesperson" name="salespersonId" error={err}>
                            <SalespersonSelect id="lead-salespersonId" user={user} people={people.value} value={d.salespersonId}
                                holderName={s?.salespersonId === d.salespersonId ? s.salespersonName : ""}
                                onChange={(v) => set("salespersonId", v)} />
                        </Field>
                        <Field id="lead-teamId" label="Sales team" name="teamId" error={err}>
                            <TeamSelect id="lead-teamId" teams={teams.value} value={d.teamId} onChange={(v) => set("teamId", v)} />
                        </Field>
                        {text("referredBy", "Referred by")}
                    </div>
                    <PossibleDuplicates model={ImportModel.LEAD} email={d.email} phone={d.phone} companyName={d.companyName}
                        excludeId={s?.id ?? "0"} known={s?.likelyDuplicates ?? []} knownFor={s} />
                    <fieldset class="lead-tags" aria-describedby="lead-tagIds-error">
                        <legend>Categories</legend>
                        {tags.value.length === 0 && <p>No categories are defined yet.</p>}
                        {tags.value.map((t) => (
                            <label key={t.id}>
                                <input type="checkbox" checked={d.tagIds.includes(t.id)}
                                    onChange={(e) => set("tagIds", e.currentTarget.checked ? [...d.tagIds, t.id] : d.tagIds.filter((x) => x !== t.id))} />
                                {" "}{t.name}
                            </label>
                        ))}
                        <p id="lead-tagIds-error" class="field-error" role={err?.field === "tagIds" ? "alert" : undefined}>
                            {err?.field === "tagIds" ? err.message : ""}
                        </p>
                    </fieldset>
                    <Field id="lead-internalNotes" label="Internal notes" name="internalNotes" error={err}>
                        <textarea id="lead-internalNotes" rows={4} value={d.internalNotes} aria-describedby="lead-internalNotes-error"
                            onInput={(e) => set("internalNotes", e.currentTarget.value)} />
                    </Field>
                    <FormAlert error={err} fields={FIELDS} />
                    {notice.value && <p role="status">{notice.value}</p>}
                    <div class="lead-actions">
                        <button type="submit" disabled={busy.value}>{isNew ? "Create" : "Save"}</button>
                    </div>
                </form>
            </section>
            {s && <Chatter key={`${s.id}:${chatterVersion.value}`} model="lead" id={s.id} />}
            {s && dialog.value === "lost" && <LostDialog lead={s} onDone={(l) => { dialog.value = null; show(l); }} onClose={() => (dialog.value = null)} />}
            {s && dialog.value === "convert" && <ConvertDialog lead={s} onDone={(l) => { dialog.value = null; show(l); }} onClose={() => (dialog.value = null)} />}
        </div>
    );
}
