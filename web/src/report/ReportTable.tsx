// The report's figures: one row per group and the totals, money in each of
// its currencies (never one sum of several). It is also the chart's
// accessible alternative.
import type { CurrencyTotal } from "../../gen/pipeline";
import { formatMoney } from "../format";
import { moneyOf, totalsOf, type Row } from "./rows";

// one line per currency
function Money({ totals, pick }: { totals: CurrencyTotal[]; pick: (t: CurrencyTotal) => string }) {
    return <>{totals.map((t, i) => <span key={t.currency} class="report-money">{i > 0 && <br />}{formatMoney(pick(t), t.currency)}</span>)}</>;
}

const count = new Intl.NumberFormat();

export function ReportTable({ rows, groupName }: { rows: Row[]; groupName: string }) {
    const sum = (f: (r: Row) => string) => rows.reduce((s, r) => s + BigInt(f(r)), 0n);
    const totals = totalsOf(rows);
    return (
        <div class="report-table" role="region" aria-label="Report figures" tabIndex={0}>
            <table>
                <caption>Pipeline by {groupName.toLowerCase()}</caption>
                <thead><tr>
                    <th scope="col">{groupName}</th>
                    <th scope="col">Count</th>
                    <th scope="col">Expected revenue</th>
                    <th scope="col">Weighted revenue</th>
                    <th scope="col">Won</th>
                    <th scope="col">Lost</th>
                </tr></thead>
                <tbody>
                    {rows.map((r) => (
                        <tr key={r.key}>
                            <th scope="row">{r.label}</th>
                            <td>{count.format(Number(r.count))}</td>
                            <td><Money totals={moneyOf(r)} pick={(t) => t.expectedRevenue} /></td>
                            <td><Money totals={moneyOf(r)} pick={(t) => t.weightedRevenue} /></td>
                            <td>{count.format(Number(r.wonCount))}</td>
                            <td>{count.format(Number(r.lostCount))}</td>
                        </tr>
                    ))}
                </tbody>
                <tfoot><tr>
                    <th scope="row">Total</th>
                    <td>{count.format(sum((r) => r.count))}</td>
                    <td><Money totals={totals} pick={(t) => t.expectedRevenue} /></td>
                    <td><Money totals={totals} pick={(t) => t.weightedRevenue} /></td>
                    <td>{count.format(sum((r) => r.wonCount))}</td>
                    <td>{count.format(sum((r) => r.lostCount))}</td>
                </tr></tfoot>
            </table>
        </div>
    );
}
