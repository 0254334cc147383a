// Scheduled calls: the calls the user may see, filtered as ListCalls can
// (status, responsible, a date range), in time order; a scheduled call can
// be marked held or cancelled. Log a call and Schedule a call open here,
// on a lead or opportunity (/calls?lead=ID starts them on that one).
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { CallStatus, ListCallsRequest, type Call } from "../../gen/activities";
import type { User } from "../../gen/identity";
import type { Lead } from "../../gen/pipeline";
import { activities, errorText, isUnauthenticated, pipeline } from "../api";
import { loadUserNames, userNames } from "../names";
import { search } from "../router";
import { currentUser } from "../session";
import { CallForm, type CallFormMode } from "./CallForm";
import { docLabel, docPath, loadDocNames } from "./docs";
import { statusWords } from "./words";
import { addDays, dateTimeFormat, fromMicros, parseLocal, toMicros } from "./time";
import { activeUsers, displayName, loadActiveUsers } from "./users";

const PAGE = 50;
const minutes = new Intl.NumberFormat(undefined, { style: "unit", unit: "minute", unitDisplay: "short" });

export function CallsScreen({ user }: { user: User }) {
    const status = useSignal<CallStatus>(CallStatus.SCHEDULED);
    const responsible = useSignal<string>(user.id);   // "0": anyone
    const from = useSignal("");
    const to = useSignal("");
    const calls = useSignal<Call[] | null>(null);
    const nextPage = useSignal("");
    const error = useSignal("");
    const notice = useSignal("");
    const form = useSignal<CallFormMode | null>(null);
    const startLead = useSignal<Lead | null>(null);
    const busyId = useSignal("");
    const asked = useRef(0);

    function fail(e: unknown) {
        if (isUnauthenticated(e)) currentUser.value = "signed-out";
        else error.value = errorText(e);
    }

    async function load(pageToken = "") {
        const fromDate = parseLocal(from.value), toDate = parseLocal(to.value);
        const mine = ++asked.current;
        try {
            const { response } = await activities.listCalls(ListCallsRequest.create({
                status: status.value, responsibleId: responsible.value,
                from: fromDate ? toMicros(fromDate) : "0",
                // the To date is included: up to the next day's midnight
                to: toDate ? toMicros(addDays(toDate, 1)) : "0",
                pageSize: PAGE, pageToken,
            }));
            if (mine !== asked.current) return; // the filters changed meanwhile
            calls.value = pageToken ? [...(calls.value ?? []), ...response.calls] : response.calls;
            nextPage.value = response.nextPageToken;
            error.value = "";
            void loadDocNames(response.calls.map((c) => c.doc));
        } catch (e) {
            fail(e);
        }
    }

    useEffect(() => void load(), [status.value, responsible.value, from.value, to.value]);
    useEffect(() => {
        loadUserNames().catch(fail);
        loadActiveUsers().catch(fail);
    }, []);
    // Log a call or Schedule a call on a lead's form opens here on that lead;
    // Back and Forward between two such addresses follow them
    const query = search.value;
    useEffect(() => {
        const params = new URLSearchParams(query);
        const leadId = params.get("lead");
        if (!leadId) return;
        let stale = false;
        pipeline.getLead({ id: leadId }).then(({ response }) => {
            if (stale) return;
            startLead.value = response;
            form.value = params.get("form") === "schedule" ? "schedule" : "log";
        }, fail);
        return () => void (stale = true);
    }, [query]);

    async function close(c: Call, how: "held" | "cancel") {
        busyId.value = c.id;
        error.value = notice.value = "";
        try {
            if (how === "held") await activities.markCallHeld({ id: c.id });
            else await activities.cancelCall({ id: c.id });
            notice.value = how === "held" ? `Call marked held: ${c.summary}` : `Call cancelled: ${c.summary}`;
            await load();
        } catch (e) {
            fail(e);
        } finally {
            busyId.value = "";
        }
    }

    function done(c: Call) {
        notice.value = `${c.status === CallStatus.HELD ? "Call logged" : "Call scheduled"}: ${c.summary}`;
        form.value = null;
        void load();
    }

    const names = userNames.value;
    return (
        <section class="calls" aria-labelledby="calls-title">
            <div class="calls-head">
                <h1 id="calls-title">Scheduled calls</h1>
                <div class="calls-open">
                    {(["log", "schedule"] as const).map((m) => (
                        <button key={m} type="button" aria-expanded={form.value === m}
                            onClick={() => { notice.value = ""; form.value = form.value === m ? null : m; }}>
                            {m === "log" ? "Log a call" : "Schedule a call"}
                        </button>
                    ))}
                </div>
            </div>
            {form.value && (
                <CallForm key={form.value} mode={form.value} user={user} lead={startLead.value}
                    onDone={done} onCancel={() => (form.value = null)} />
            )}
            <p class="calls-notice" role="status">{notice.value}</p>
            <form class="calls-filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
                <div>
                    <label for="calls-status">Status</label>
                    <select id="calls-status" value={String(status.value)} onChange={(e) => (status.value = Number(e.currentTarget.value))}>
                        {[CallStatus.SCHEDULED, CallStatus.HELD, CallStatus.CANCELLED].map((s) =>
                            <option key={s} value={String(s)}>{statusWords[s]}</option>)}
                        <option value={String(CallStatus.UNSPECIFIED)}>Any status</option>
                    </select>
                </div>
                <div>
                    <label for="calls-responsible">Responsible</label>
                    <select id="calls-responsible" value={responsible.value} onChange={(e) => (responsible.value = e.currentTarget.value)}>
                        <option value={user.id}>Me</option>
                        <option value="0">Anyone</option>
                        {(activeUsers.value ?? []).filter((u) => u.id !== user.id).map((u) =>
                            <option key={u.id} value={u.id}>{displayName(u)}</option>)}
                    </select>
                </div>
                <div>
                    <label for="calls-from">From</label>
                    <input id="calls-from" type="date" value={from.value} onChange={(e) => (from.value = e.currentTarget.value)} />
                </div>
                <div>
                    <label for="calls-to">To</label>
                    <input id="calls-to" type="date" value={to.value} onChange={(e) => (to.value = e.currentTarget.value)} />
                </div>
            </form>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {calls.value === null ? !error.value && <p role="status">Loading…</p>
                : calls.value.length === 0 ? <p>No calls match these filters.</p>
                : (
                    <ul class="calls-list" aria-label="Calls">
                        {calls.value.map((c) => (
                            <li key={c.id} aria-labelledby={`call-${c.id}`}>
                                <h2 id={`call-${c.id}`}>{c.summary}</h2>
                                <dl>
                                    <dt>Date</dt><dd><time dateTime={fromMicros(c.at).toISOString()}>{dateTimeFormat.format(fromMicros(c.at))}</time></dd>
                                    <dt>Duration</dt><dd>{minutes.format(c.durationMinutes)}</dd>
                                    <dt>About</dt><dd><a href={docPath(c.doc!)}>{docLabel(c.doc)}</a></dd>
                                    <dt>Responsible</dt><dd>{names.get(c.responsibleId) ?? ""}</dd>
                                    <dt>Status</dt><dd>{statusWords[c.status]}</dd>
                                </dl>
                                {c.status === CallStatus.SCHEDULED && (
                                    <div class="calls-actions">
                                        <button type="button" disabled={busyId.value === c.id} onClick={() => close(c, "held")}>Mark held</button>
                                        <button type="button" disabled={busyId.value === c.id} onClick={() => close(c, "cancel")}>Cancel</button>
                                    </div>
                                )}
                            </li>
                        ))}
                    </ul>
                )}
            {nextPage.value && <button type="button" onClick={() => load(nextPage.value)}>More calls</button>}
        </section>
    );
}
