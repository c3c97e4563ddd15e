import type { Page } from 'playwright-core';

/** Joins the demo chat as user `id` and waits until the page says it is connected. */
export async function joinDemo(
  page: Page,
  id: string,
  { name = id, teamId = 'demo' }: { name?: string; teamId?: string } = {},
): Promise<void> {
  await page.fill('#join input[name=name]', name);
  await page.fill('#join input[name=id]', id);
  await page.fill('#join input[name=teamId]', teamId);
  await page.click('#join button');
  await page.locator('#status', { hasText: `connected as ${name}` }).waitFor();
}

/** Sends `text` from the demo chat and waits for its ack mark. */
export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await page
    .locator('#log li.mine', { hasText: text })
    .locator('.state', { hasText: '✓' })
    .waitFor();
}
