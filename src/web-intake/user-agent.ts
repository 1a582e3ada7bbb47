import { isbot } from 'isbot'
import { UAParser } from 'ua-parser-js'

// ua-parser-js stays on 1.x: 2.x is AGPL. isbot's list is maintained upstream
// (crawlers, link previews, monitoring, headless browsers).

export type Device = 'desktop' | 'mobile' | 'tablet'

export interface Agent {
  browser: string
  os: string
  device: Device
}

/** Whether a User-Agent is a known bot or crawler (an absent one is counted as a bot too: browsers always send one). */
export function isBot(userAgent: string | undefined): boolean {
  return userAgent === undefined || userAgent.trim() === '' || isbot(userAgent)
}

/** Browser, OS and device class of a browser's User-Agent; what is unknown is '' (never absent: the panels group by it). */
export function agentOf(userAgent: string): Agent {
  const { browser, os, device } = new UAParser(userAgent).getResult()
  // Phones and wearables are mobile; everything without a class (desktops, TVs, consoles) desktop.
  const kind: Device =
    device.type === 'tablet'
      ? 'tablet'
      : device.type === 'mobile' || device.type === 'wearable'
        ? 'mobile'
        : 'desktop'
  return { browser: browser.name ?? '', os: os.name ?? '', device: kind }
}
