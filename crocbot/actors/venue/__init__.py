"""The venue actors: the router's commands carried out on a venue, and what happened published back on the bus.

- `paper`: `VenueActor`, the paper venue run in the actor's own thread, its account saved before its events go out;
- `calls`: `VenueCalls`, every command one exchange call through a gateway (the live venue's executor), the exchange
  itself behind `OrderCalls`;
- `live`: `LiveVenue`, `VenueCalls` over Kraken's private WS (REST as the fallback), owning the connection and the
  executions feed that publishes fills and order events (imported from its module: `crocbot.venues.live` imports
  `calls` from this package, so re-exporting it here would be an import cycle);
- `catch_up`: the bookkeeping of the paper venue's catch-up with the prints it missed while crocbot was down.
"""

from crocbot.actors.venue.calls import OrderCalls, VenueCalls, VenueRefusal
from crocbot.actors.venue.catch_up import CatchUpPolicy
from crocbot.actors.venue.paper import TradeFetcher, VenueActor

__all__ = ["VenueActor", "TradeFetcher", "CatchUpPolicy", "VenueCalls", "OrderCalls", "VenueRefusal"]
