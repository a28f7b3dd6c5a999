import { spinCloudProgram } from "./components";

/**
 * The stack outputs are what the program returns for the stack's target (README "Outputs").
 * Secrets (management tokens) read with `pulumi stack output --show-secrets <name>`.
 *
 * Declare your Spin apps in `apps` below (README "Declaring apps"): each is a SpinApp's arguments
 * without `cloud`, plus its `name`, and runs on the stack's cloud, AWS or local, its URL in the
 * `appUrls` output. Every app's files are checked before the first resource is registered
 * (build each with `spin build` in its directory first):
 *
 *     export = spinCloudProgram({
 *         apps: [{ name: "shop", source: "apps/shop", hosts: ["shop.example.com"] }],
 *     });
 *
 * What needs the cloud object goes in `declareApps: (cloud) => [new SpinApp("shop", { cloud, ... })]`;
 * those apps are checked only when constructed, after the whole cloud was declared.
 */
export = spinCloudProgram({ apps: [] });
