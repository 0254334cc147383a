// The report's figures: one row per group and the totals, money in each
// row's currency when the rows carry one. It is also the chart's
// accessible alternative.
import { formatMoney } from "../format";
import { commonCurrency, type Row } from "./rows";

const count = new Intl.NumberFormat();

export function ReportTable({ rows, groupName }: { rows: Row[]; groupName: string }) {
    const sum = (f: (r: Row) => string) => rows.reduce((s, r) => s + BigInt(f(r)), 0n);
    const currency = commonCurrency(rows);
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
                            <td>{formatMoney(r.expectedRevenue, r.currency)}</td>
                            <td>{formatMoney(r.weightedRevenue, r.currency)}</td>
                            <td>{count.format(Number(r.wonCount))}</td>
                            <td>{count.format(Number(r.lostCount))}</td>
                        </tr>
                    ))}
                </tbody>
                <tfoot><tr>
                    <th scope="row">Total</th>
                    <td>{count.format(sum((r) => r.count))}</td>
                    <td>{formatMoney(sum((r) => r.expectedRevenue), currency)}</td>
                    <td>{formatMoney(sum((r) => r.weightedRevenue), currency)}</td>
                    <td>{count.format(sum((r) => r.wonCount))}</td>
                    <td>{count.format(sum((r) => r.lostCount))}</td>
                </tr></tfoot>
            </table>
        </div>
    );
}
