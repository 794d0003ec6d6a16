import type { Db } from "@osm/db/client";
import { defaultPriceList } from "@osm/db/price-list";
import { recordAudit } from "@osm/db/queries/audit";
import { insertUser } from "@osm/db/queries/auth";
import { insertModel, insertProvider } from "@osm/db/queries/catalog";
import { getSetting, setSetting } from "@osm/db/queries/instance";
import { insertKey } from "@osm/db/queries/keys";
import { upsertMembership } from "@osm/db/queries/members";
import { insertProject } from "@osm/db/queries/projects";
import type { CryptoBox } from "@osm/keys/crypto-box";
import { hashPassword } from "@osm/keys/passwords";
import { displaySecret, generateSecret, hashSecret } from "@osm/keys/secrets";
import { parseUsd } from "@osm/policy/money";
import { randomPassword } from "./random-password.ts";

export const demoOwnerEmail = "demo@osm.local";
const seededSetting = "demo_seeded";

export type DemoUpstream = { openaiBaseUrl: string; anthropicBaseUrl: string };

/** What the first start prints once; neither secret is recoverable afterwards. */
export type DemoSeed = { email: string; password: string; apiKey: string };

/**
 * Creates the demo owner, project, fake providers, the default catalog and one API key, once per
 * database. Returns null when an earlier start already seeded it.
 */
export async function seedDemo(
  db: Db,
  box: CryptoBox,
  upstream: DemoUpstream,
): Promise<DemoSeed | null> {
  if ((await getSetting(db, seededSetting)) !== undefined) return null;
  const password = randomPassword();
  const passwordHash = await hashPassword(password);
  const apiKey = generateSecret("apiKey");
  // The fake upstream ignores the credential, but providers always hold a sealed one.
  const credential = box.encrypt("fake-upstream-key");

  await db.transaction(async (tx) => {
    const user = await insertUser(tx, demoOwnerEmail, passwordHash);
    const project = await insertProject(tx, "Demo");
    await upsertMembership(tx, project.id, user.id, "owner");
    const providerIds = { openai: "", anthropic: "" };
    for (const [kind, slug, baseUrl] of [
      ["openai", "fake-openai", upstream.openaiBaseUrl],
      ["anthropic", "fake-anthropic", upstream.anthropicBaseUrl],
    ] as const) {
      const provider = await insertProvider(tx, {
        projectId: project.id,
        slug,
        kind,
        baseUrl,
        credential,
      });
      if (!provider) throw new Error(`demo provider ${slug} already exists`);
      providerIds[kind] = provider.id;
    }
    for (const entry of defaultPriceList) {
      await insertModel(tx, {
        projectId: project.id,
        slug: entry.id,
        providerId: providerIds[entry.kind],
        upstreamModel: entry.id,
        inputPer1M: usd(entry.inputUsdPer1M),
        outputPer1M: usd(entry.outputUsdPer1M),
        tier: entry.tier,
        maxOutputTokens: entry.maxOutputTokens,
        tokenParam: entry.tokenParam,
      });
    }
    const key = await insertKey(tx, {
      projectId: project.id,
      label: "demo",
      secretHash: hashSecret(apiKey),
      display: displaySecret(apiKey),
      spendLimit: null,
      budgetPeriod: "none",
      policy: {},
      expiresAt: null,
      createdBy: null,
    });
    await recordAudit(tx, {
      projectId: project.id,
      actor: { type: "system", id: null },
      action: "demo.seed",
      targetType: "project",
      targetId: project.id,
      data: { ownerEmail: demoOwnerEmail, keyId: key.id, models: defaultPriceList.length },
    });
    await setSetting(tx, seededSetting, new Date().toISOString());
  });
  return { email: demoOwnerEmail, password, apiKey };
}

function usd(amount: string): bigint {
  const nanos = parseUsd(amount);
  if (nanos === null) throw new Error(`not a USD amount: ${amount}`);
  return nanos;
}
