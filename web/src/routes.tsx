// Every screen of the app: its path, its name in the navigation, who may
// see it, and what it shows. One table, so that the top bar, the router and
// the tests agree on what exists.
import type { ComponentChildren } from "preact";
import type { User } from "../gen/identity";
import { hasSales } from "./access";
import { PipelineBoard } from "./PipelineBoard";

export type Screen = {
    path: string;                       // "/leads/:id": params by name
    nav?: string;                       // its link in the top bar, if any
    allowed?: (u: User) => boolean;     // default: everyone signed in
    render: (u: User, params: Record<string, string>) => ComponentChildren;
};

export const screens: Screen[] = [
    { path: "/pipeline", nav: "Pipeline", allowed: hasSales, render: (u) => <PipelineBoard user={u} /> },
];

export const home = "/pipeline";
