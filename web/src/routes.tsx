// Every screen of the app: its path, its name in the navigation, who may
// see it, and what it shows. One table, so that the top bar, the router and
// the tests agree on what exists.
import type { ComponentChildren } from "preact";
import type { User } from "../gen/identity";
import { hasSales, isAdmin, isManager } from "./access";
import { PipelineBoard } from "./PipelineBoard";
import { search } from "./router";
import { LeadForm } from "./leads/LeadForm";
import { LeadsList } from "./leads/LeadsList";
import { QuotationView } from "./leads/QuotationView";
import { CustomerForm } from "./customers/CustomerForm";
import { CustomersList } from "./customers/CustomersList";
import { CalendarScreen } from "./calls/CalendarScreen";
import { CallsScreen } from "./calls/CallsScreen";
import { InviteScreen } from "./invite/InviteScreen";
import { LostReasonsSettings } from "./manage/LostReasonsSettings";
import { Settings } from "./manage/Settings";
import { StagesSettings } from "./manage/StagesSettings";
import { TagsSettings } from "./manage/TagsSettings";
import { TeamsSettings } from "./manage/TeamsSettings";
import { UsersSettings } from "./manage/UsersSettings";
import { PipelineReport } from "./report/PipelineReport";
import { Inbox } from "./inbox/Inbox";
import { inboxPath } from "./inbox/paths";
import { DiscussionPage } from "./chatter/DiscussionPage";
import { MyActivities } from "./activities/MyActivities";
import { ActivityTypesSettings } from "./manage/ActivityTypesSettings";

export type Screen = {
    path: string;                       // "/leads/:id": params by name
    nav?: string;                       // its link in the top bar, if any
    allowed?: (u: User) => boolean;     // default: everyone signed in
    render: (u: User, params: Record<string, string>) => ComponentChildren;
} | {
    path: string;
    public: true;                       // shown without a session, in place of Sign in
    nav?: undefined;
    allowed?: undefined;
    render: (u: User | null, params: Record<string, string>) => ComponentChildren;
};

export const screens: Screen[] = [
    { path: "/pipeline", nav: "Pipeline", allowed: hasSales, render: (u) => <PipelineBoard user={u} /> },
    { path: "/leads", nav: "Leads", allowed: hasSales, render: () => <LeadsList /> },
    // before /leads/:id, which "new" would match too
    { path: "/leads/new", allowed: hasSales, render: (u) => <LeadForm key={`new${search.value}`} user={u} id="new" /> },
    { path: "/leads/:id", allowed: hasSales, render: (u, p) => <LeadForm key={p.id} user={u} id={p.id} /> },
    { path: "/quotations/:id", allowed: hasSales, render: (_u, p) => <QuotationView id={p.id} /> },
    { path: "/customers", nav: "Customers", allowed: hasSales, render: () => <CustomersList /> },
    { path: "/customers/new", allowed: hasSales, render: (u) => <CustomerForm key={`new${search.value}`} user={u} id="new" /> },
    { path: "/customers/:id", allowed: hasSales, render: (u, p) => <CustomerForm key={p.id} user={u} id={p.id} /> },
    { path: "/calls", nav: "Calls", allowed: hasSales, render: (u) => <CallsScreen user={u} /> },
    { path: "/calendar", nav: "Calendar", allowed: hasSales, render: (u) => <CalendarScreen user={u} /> },
    { path: "/activities", nav: "Activities", allowed: hasSales, render: (u) => <MyActivities user={u} /> },
    { path: "/invite/:token", public: true,
      render: (_: User | null, p: Record<string, string>) => <InviteScreen token={p.token} /> },
    { path: "/report", nav: "Report", allowed: isManager, render: () => <PipelineReport /> },
    { path: "/settings", nav: "Settings", allowed: isManager, render: (u) => <Settings user={u} /> },
    { path: "/settings/stages", allowed: isManager, render: (u) => <StagesSettings user={u} /> },
    { path: "/settings/teams", allowed: isManager, render: () => <TeamsSettings /> },
    { path: "/settings/users", allowed: isAdmin, render: (u) => <UsersSettings user={u} /> },
    { path: "/settings/lost-reasons", allowed: isManager, render: () => <LostReasonsSettings /> },
    { path: "/settings/tags", allowed: isManager, render: () => <TagsSettings /> },
    { path: "/settings/activity-types", allowed: isManager, render: () => <ActivityTypesSettings /> },
    { path: inboxPath, nav: "Inbox", render: () => <Inbox /> },
    { path: "/chatter/:model/:id", render: (_u: User, p: Record<string, string>) => <DiscussionPage model={p.model} id={p.id} /> },
];

export const home = "/pipeline";
