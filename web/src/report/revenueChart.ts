// The report's bar chart, drawn by Chart.js: loaded only when the report
// opens (a dynamic import: its own chunk), with only the parts a bar chart
// of categories needs, so the first screen stays small.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export type ChartData = {
    labels: string[];
    expected: number[];     // major units
    weighted: number[];
    money: (major: number) => string;
};

export function drawRevenueChart(canvas: HTMLCanvasElement, data: ChartData): Chart<"bar"> {
    return new Chart(canvas, {
        type: "bar",
        data: {
            labels: data.labels,
            datasets: [
                { label: "Expected revenue", data: data.expected, backgroundColor: "#8fa8d6" },
                { label: "Weighted revenue", data: data.weighted, backgroundColor: "#2b3a55" },
            ],
        },
        options: {
            responsive: true,
            maintainAspectRatio: false,
            // drawn at once: the table beside it is the same figures, and a
            // growing bar says nothing more
            animation: false,
            plugins: {
                legend: { position: "bottom" },
                tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${data.money(c.parsed.y ?? 0)}` } },
            },
            scales: {
                y: { beginAtZero: true, ticks: { callback: (v) => data.money(Number(v)) } },
            },
        },
    });
}

export function updateRevenueChart(chart: Chart<"bar">, data: ChartData): void {
    chart.data.labels = data.labels;
    chart.data.datasets[0].data = data.expected;
    chart.data.datasets[1].data = data.weighted;
    chart.options.plugins!.tooltip!.callbacks!.label = (c) => `${c.dataset.label}: ${data.money(c.parsed.y ?? 0)}`;
    chart.options.scales!.y!.ticks!.callback = (v) => data.money(Number(v));
    chart.update();
}
