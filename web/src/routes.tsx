// Every screen of the app: its path, its name in the navigation, who may
// see it, and what it shows. One table, so that the top bar, the router and
// the tests agree on what exists.
import type { ComponentChildren } from "preact";
import type { User } from "../gen/identity";
import { hasSales, isAdmin, isManager } from "./access";
import { PipelineBoard } from "./PipelineBoard";
import { LostReasonsSettings } from "./manage/LostReasonsSettings";
import { Settings } from "./manage/Settings";
import { StagesSettings } from "./manage/StagesSettings";
import { TagsSettings } from "./manage/TagsSettings";
import { TeamsSettings } from "./manage/TeamsSettings";
import { UsersSettings } from "./manage/UsersSettings";
import { PipelineReport } from "./report/PipelineReport";

export type Screen = {
    path: string;                       // "/leads/:id": params by name
    nav?: string;                       // its link in the top bar, if any
    allowed?: (u: User) => boolean;     // default: everyone signed in
    render: (u: User, params: Record<string, string>) => ComponentChildren;
};

export const screens: Screen[] = [
    { path: "/pipeline", nav: "Pipeline", allowed: hasSales, render: (u) => <PipelineBoard user={u} /> },
    { path: "/report", nav: "Report", allowed: isManager, render: () => <PipelineReport /> },
    { path: "/settings", nav: "Settings", allowed: isManager, render: (u) => <Settings user={u} /> },
    { path: "/settings/stages", allowed: isManager, render: (u) => <StagesSettings user={u} /> },
    { path: "/settings/teams", allowed: isManager, render: () => <TeamsSettings /> },
    { path: "/settings/users", allowed: isAdmin, render: (u) => <UsersSettings user={u} /> },
    { path: "/settings/lost-reasons", allowed: isManager, render: () => <LostReasonsSettings /> },
    { path: "/settings/tags", allowed: isManager, render: () => <TagsSettings /> },
];

export const home = "/pipeline";
