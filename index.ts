import { spinCloudProgram } from "./components";

/**
 * The stack outputs are what the program returns for the stack's target (README "Outputs").
 * Secrets (management tokens) read with `pulumi stack output --show-secrets <name>`.
 *
 * Declare your Spin apps in the function below (README "Declaring apps"); it receives the
 * stack's cloud, AWS or local, and each app it returns gets its URL in the `appUrls` output:
 *
 *     import { SpinApp } from "./components/apps/spin-app";
 *     export = spinCloudProgram((cloud) => [
 *         new SpinApp("shop", { cloud, source: "apps/shop", hosts: ["shop.example.com"] }),
 *     ]);
 */
export = spinCloudProgram((cloud) => []);
