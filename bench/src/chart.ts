// The chart for the README: throughput and p99 latency by concurrency, saga against both references.
// Vega-Lite compiled to Vega and rendered headless to SVG (no canvas, no native dependencies).
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export type ChartPoint = {
  concurrency: number;
  series: string;
  throughput: number;
  p50: number;
  p99: number;
};

export const SERIES = {
  saga: "saga: order placed → status event",
  monolith: "monolith: one transaction per order",
  sync: "sync: one Postgres transaction",
  bullmq: "bare BullMQ round trip",
} as const;

export async function renderChart(
  points: ChartPoint[],
  title: string,
  subtitle: string[],
  p99TargetMs?: number,
): Promise<string> {
  const data = points.filter((p) => Number.isFinite(p.throughput) && Number.isFinite(p.p99));
  const x = {
    field: "concurrency",
    type: "quantitative" as const,
    title: "requests in flight",
    scale: { type: "log" as const, base: 2 },
    axis: { values: [...new Set(data.map((p) => p.concurrency))] },
  };
  const color = {
    field: "series",
    type: "nominal" as const,
    title: null,
    scale: {
      domain: [SERIES.saga, SERIES.monolith, SERIES.sync, SERIES.bullmq],
      range: ["#e45756", "#f58518", "#4c78a8", "#54a24b"],
    },
    legend: { orient: "bottom" as const, labelLimit: 400, direction: "horizontal" as const },
  };
  const target =
    p99TargetMs === undefined
      ? []
      : [
          {
            data: { values: [{ y: p99TargetMs, label: `target p99 ${p99TargetMs} ms (at half max load)` }] },
            layer: [
              {
                mark: { type: "rule" as const, strokeDash: [4, 4], color: "#888" },
                encoding: { y: { field: "y", type: "quantitative" as const } },
              },
              {
                mark: {
                  type: "text" as const,
                  align: "left" as const,
                  dy: 10,
                  x: 4,
                  fontSize: 9,
                  color: "#666",
                },
                encoding: {
                  y: { field: "y", type: "quantitative" as const },
                  text: { field: "label", type: "nominal" as const },
                },
              },
            ],
          },
        ];
  const panel = (field: "throughput" | "p99", title: string) => ({
    width: 340,
    height: 260,
    layer: [
      ...(field === "p99" ? target : []),
      {
        mark: { type: "line" as const, point: true },
        encoding: {
          x,
          y: { field, type: "quantitative" as const, title, scale: { type: "log" as const } },
          color,
        },
      },
      {
        mark: { type: "text" as const, dy: -9, fontSize: 9 },
        encoding: {
          x,
          y: { field, type: "quantitative" as const },
          text: { field, type: "quantitative" as const, format: field === "p99" ? ".1f" : ".0f" },
          color,
        },
      },
    ],
  });
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: title, subtitle },
    data: { values: data },
    hconcat: [panel("throughput", "throughput (per second, log)"), panel("p99", "p99 latency (ms, log)")],
    config: { font: "Helvetica, Arial, sans-serif", view: { stroke: "#ddd" } },
    background: "white",
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}
