// The CRM's services as deploy/run-local.sh starts them, for the browser
// test and the browser benchmarks: the given backends and the gateway
// serving the web app on a free port, over ipc endpoints in a new folder.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

function freePort() {
    return new Promise((ok, fail) => {
        const s = createServer();
        s.once("error", fail);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => ok(port));
        });
    });
}

// bin: the folder of crm-* programs; backends: which services to start
// before the gateway; extraEnv: settings for them all. Returns { dir, base, procs, stopAll }; stopAll ends
// them in reverse order and returns what went wrong (empty: all stopped).
export async function startServices({ bin, webDir, adminPassword, prefix = "crm-web-test.",
    backends = ["identity", "pipeline", "activities", "notifications"], extraEnv = {} }) {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const port = await freePort();
    const ep = (name) => `ipc://${dir}/${name}`;
    const env = {
        ...process.env,
        CRM_ADMIN_PASSWORD: adminPassword,
        CRM_IDENTITY_RPC: ep("identity.rpc"), CRM_IDENTITY_EVENTS: ep("identity.events"),
        CRM_IDENTITY_REPLAY: ep("identity.replay"),
        CRM_PIPELINE_RPC: ep("pipeline.rpc"), CRM_PIPELINE_EVENTS: ep("pipeline.events"),
        CRM_PIPELINE_REPLAY: ep("pipeline.replay"),
        CRM_ACTIVITIES_RPC: ep("activities.rpc"), CRM_ACTIVITIES_EVENTS: ep("activities.events"),
        CRM_ACTIVITIES_REPLAY: ep("activities.replay"),
        CRM_NOTIFICATIONS_RPC: ep("notifications.rpc"), CRM_NOTIFICATIONS_STREAM: ep("notifications.stream"),
        ...extraEnv,
    };
    const procs = [];
    function start(name, args) {
        mkdirSync(join(dir, "logs"), { recursive: true });
        const p = spawn(join(bin, `crm-${name}`), args, { env, stdio: ["ignore", "ignore", "pipe"] });
        let log = "";
        p.stderr.on("data", (d) => (log = (log + d).slice(-8000)));
        const exited = new Promise((ok) => p.on("exit", (code, signal) => ok({ code, signal })));
        procs.push({ name, p, exited, log: () => log });
    }
    for (const s of backends) start(s, ["--data-dir", join(dir, s)]);
    start("gateway", ["--zmq", ep("gateway.zmq"), "--http-port", String(port), "--web-dir", webDir]);

    async function stopAll() {
        for (const { p } of [...procs].reverse()) p.kill("SIGTERM");
        const timeout = new Promise((ok) => setTimeout(() => ok("timeout"), 20000));
        const bad = [];
        for (const { name, p, exited, log } of procs) {
            const r = await Promise.race([exited, timeout]);
            if (r === "timeout") {
                p.kill("SIGKILL");
                bad.push(`${name} did not stop`);
            } else if (r.code !== 0) {
                bad.push(`${name} exited ${r.code ?? r.signal}:\n${log()}`);
            }
        }
        return bad;
    }
    return { dir, base: `http://127.0.0.1:${port}`, procs, stopAll };
}
