import type { Team } from './types';

/** Durable team records. */
export interface Store {
  /** Rejects with `conflict` when the team exists. */
  createTeam(team: { id: string; name: string }): Promise<Team>;
  /** Records a team first seen on a socket; returns the existing one untouched. */
  ensureTeam(id: string): Promise<Team>;
  getTeam(id: string): Promise<Team | undefined>;
  /**
   * Gives a stored team a new name (createdAt unchanged) and returns it; undefined
   * when no team has this id (nothing is created).
   */
  renameTeam(id: string, name: string): Promise<Team | undefined>;
  listTeams(): Promise<Team[]>;
  close(): Promise<void>;
}
