// The report's rows as bars (expected and weighted revenue per row). The
// chart library is fetched when this first shows; the table is the chart's
// accessible alternative, and the canvas says so.
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { Chart } from "chart.js";
import { errorText } from "../api";
import type { ChartData } from "./revenueChart";

type Props = { data: ChartData; description: string };

export function ReportChart({ data, description }: Props) {
    const canvas = useRef<HTMLCanvasElement>(null);
    const chart = useRef<Chart<"bar"> | null>(null);
    const error = useSignal("");

    useEffect(() => {
        let gone = false;
        import("./revenueChart").then((m) => {
            if (gone || !canvas.current) return;
            if (chart.current) m.updateRevenueChart(chart.current, data);
            else chart.current = m.drawRevenueChart(canvas.current, data);
        }, (e) => (error.value = `The chart could not be loaded: ${errorText(e)}`));
        return () => { gone = true; };
    }, [data]);

    useEffect(() => () => chart.current?.destroy(), []);

    return (
        <figure class="report-chart">
            {error.value
                ? <p class="error" role="alert">{error.value}</p>
                : <div class="report-canvas"><canvas ref={canvas} role="img" aria-label={description} /></div>}
        </figure>
    );
}
