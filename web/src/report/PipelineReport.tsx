// The pipeline report (managers): leads grouped by stage, salesperson,
// expected-closing month, team or status, with count, expected and
// weighted revenue, as a table and as a chart of the same rows. Filters
// are the API's: a team and a range of creation dates.
import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Team } from "../../gen/identity";
import { GroupBy } from "../../gen/pipeline";
import { pipeline } from "../api";
import { formatMoney, majorNumber, minorDigits } from "../format";
import { failure, Field, FormAlert, type FormError } from "../ui/form";
import { labelOf } from "../manage/labels";
import { listTeams } from "../manage/teams";
import { ReportChart } from "./ReportChart";
import { ReportTable } from "./ReportTable";
import { chartCurrency, groupings, inCurrency, shown, totalsOf, type Row } from "./rows";

export function PipelineReport() {
    const groupBy = useSignal(GroupBy.STAGE);
    const teamId = useSignal("0");
    const from = useSignal("");
    const to = useSignal("");
    const teams = useSignal<Team[]>([]);
    const rows = useSignal<Row[] | null>(null);
    const error = useSignal<FormError>(null);

    useEffect(() => {
        listTeams().then((t) => (teams.value = t), (e) => (error.value = failure(e)));
    }, []);

    useEffect(() => {
        let stale = false;
        const group = groupBy.value;
        // by stage, the rows follow the board's order (the report's is by id)
        const order = group === GroupBy.STAGE
            ? pipeline.listStages({ teamId: teamId.value, type: 0 }).then(({ response }) => response.stages.map((s) => s.id))
            : Promise.resolve([]);
        Promise.all([
            pipeline.pipelineReport({ groupBy: group, teamId: teamId.value, from: from.value, to: to.value }),
            order,
        ]).then(
            ([{ response }, stageIds]) => {
                if (stale) return;
                rows.value = shown(group, response.rows, stageIds);
                error.value = null;
            },
            (e) => {
                if (!stale) error.value = failure(e);
            });
        return () => { stale = true; };
    }, [groupBy.value, teamId.value, from.value, to.value]);

    const groupName = labelOf(groupings, groupBy.value);
    const chart = useComputed(() => {
        const list = rows.value ?? [];
        const currency = chartCurrency(list);
        const major = (minor: string | undefined) => majorNumber(minor ?? "0", currency);
        return {
            labels: list.map((r) => r.label),
            expected: list.map((r) => major(inCurrency(r, currency)?.expectedRevenue)),
            weighted: list.map((r) => major(inCurrency(r, currency)?.weightedRevenue)),
            money: (n: number) => formatMoney(BigInt(Math.round(n * 10 ** minorDigits(currency))), currency),
            currency,
            several: totalsOf(list).length > 1,
        };
    });

    return (
        <section class="report" aria-labelledby="report-title">
            <h1 id="report-title">Pipeline report</h1>
            <form class="report-filters" aria-label="Report filters" onSubmit={(e) => e.preventDefault()}>
                <Field id="report-group" label="Group by" name="groupBy" error={error.value}>
                    <select id="report-group" aria-describedby="report-group-error" value={groupBy.value}
                        onChange={(e) => (groupBy.value = Number(e.currentTarget.value))}>
                        {groupings.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                    </select>
                </Field>
                <Field id="report-team" label="Sales team" name="teamId" error={error.value}>
                    <select id="report-team" aria-describedby="report-team-error" value={teamId.value}
                        onChange={(e) => (teamId.value = e.currentTarget.value)}>
                        <option value="0">Every team</option>
                        {teams.value.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                    </select>
                </Field>
                <Field id="report-from" label="Created from" name="from" error={error.value}>
                    <input id="report-from" aria-describedby="report-from-error" type="date" value={from.value}
                        onChange={(e) => (from.value = e.currentTarget.value)} />
                </Field>
                <Field id="report-to" label="Created until" name="to" error={error.value}>
                    <input id="report-to" aria-describedby="report-to-error" type="date" value={to.value}
                        onChange={(e) => (to.value = e.currentTarget.value)} />
                </Field>
            </form>
            <FormAlert error={error.value} fields={["groupBy", "teamId", "from", "to"]} />
            {rows.value === null
                ? !error.value && <p role="status">Loading…</p>
                : rows.value.length === 0
                    ? <p role="status">No leads match these filters.</p>
                    : <div class="report-body">
                        <ReportTable rows={rows.value} groupName={groupName} />
                        <ReportChart data={chart.value}
                            description={`Bar chart of expected and weighted revenue by ${groupName.toLowerCase()}${chart.value.several
                                ? ` in ${chart.value.currency}, the currency of most of these leads; the table gives every currency's figures.`
                                : "; the table gives the same figures."}`} />
                      </div>}
        </section>
    );
}
