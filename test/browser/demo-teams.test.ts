import { BROWSER_TEST_MS, useChromiumPages } from '../helpers/chromium-pages';
import { joinDemo, say } from '../helpers/demo-page';
import { ADMIN_TOKEN } from '../helpers/server';
import { describeWithChromium } from './chromium';

/** The demo chat following a second team on the same connection (docs/PROTOCOL.md §10). */
describeWithChromium('demo chat with two teams in one tab', () => {
  const pages = useChromiumPages({ RATE_LIMIT_PER_S: '0' });
  const { problems, open } = pages;

  afterEach(() => {
    expect(problems).toEqual([]);
  });

  test(
    'a user follows a second team in the same tab and chats in both',
    async () => {
      const ann = await open('/');
      await joinDemo(ann, 'ann', { teamId: 'home' });
      const bob = await open('/');
      await joinDemo(bob, 'bob', { teamId: 'second' });

      await ann.fill('#follow input[name=teamId]', 'second');
      await ann.click('#follow button');
      await ann.locator('#rooms button[data-team="second"][aria-selected="true"]').waitFor();
      await ann.locator('#log li', { hasText: 'You joined second too' }).waitFor();
      // Presence of the second team: bob is listed there, and bob sees ann join.
      await ann.locator('#members li[data-user="bob"]').waitFor();
      await bob.locator('#log li', { hasText: 'ann joined.' }).waitFor();

      await say(bob, 'hello second');
      await ann.locator('#log li[data-team="second"]', { hasText: 'hello second' }).waitFor();
      await say(ann, 'ann in second');
      await bob.locator('#log li', { hasText: 'ann in second' }).waitFor();

      // The home tab shows only the home team; its send goes there.
      await ann.click('#rooms button[data-team="home"]');
      await ann.locator('#log li[data-team="second"]').first().waitFor({ state: 'hidden' });
      await say(ann, 'ann at home');
      expect(
        await ann.locator('#log li[data-team="home"]', { hasText: 'ann at home' }).count(),
      ).toBe(1);
      await bob.locator('#log li', { hasText: 'ann in second' }).waitFor();
      expect(await bob.locator('#log li', { hasText: 'ann at home' }).count()).toBe(0);

      // The admin page lists ann in the second team, marked with her home team.
      const admin = await open('/admin');
      await admin.fill('#signin input[name=token]', ADMIN_TOKEN);
      await admin.click('#signin button');
      await admin.click('#teams tr[data-team="second"]');
      await admin
        .locator('#connections tr[data-user="ann"] .pill', { hasText: 'from home' })
        .waitFor();
      await admin.locator('#connections tr[data-user="bob"]').waitFor();
    },
    BROWSER_TEST_MS,
  );
});
