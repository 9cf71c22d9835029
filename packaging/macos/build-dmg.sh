#!/usr/bin/env bash
# macOS only: packs dist/"Handshake Doctor.app" (from packaging/build.sh) into
# dist/handshake-doctor-<version>-macos-<arch>.dmg, a drag-to-Applications disk image. The .app
# also runs straight from the opened image, which is the portable copy on a Mac.
# Signing is optional: with MACOS_SIGN_IDENTITY set ("Developer ID Application: ..."), the app and
# the image are signed with the hardened runtime; with MACOS_NOTARY_PROFILE (a keychain profile
# made by `xcrun notarytool store-credentials`) the image is also notarized and stapled.
# Without them the app keeps PyInstaller's ad-hoc signature (Gatekeeper asks before first start).
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(uname -s)" = Darwin ] || { echo "error: build-dmg.sh runs on macOS only (hdiutil)" >&2; exit 1; }
app="dist/Handshake Doctor.app"
[ -d "$app" ] || { echo "error: $app is missing: run packaging/build.sh" >&2; exit 1; }
version=$(cat dist/VERSION)
arch=$(uname -m)
dmg="dist/handshake-doctor-$version-macos-$arch.dmg"

plutil -lint "$app/Contents/Info.plist"
said=$("$app/Contents/MacOS/handshake-doctor" --version)
[ "$said" = "handshake-doctor $version" ] || { echo "error: the app says '$said'" >&2; exit 1; }

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$MACOS_SIGN_IDENTITY" "$app"
  codesign --verify --deep --strict --verbose=2 "$app"
fi

stage=build/dmg
rm -rf "$stage" && mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
hdiutil create -volname "Handshake Doctor $version" -srcfolder "$stage" -fs HFS+ \
  -format UDZO -imagekey zlib-level=9 -ov "$dmg"
hdiutil verify "$dmg"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$dmg"
  if [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$dmg" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
    xcrun stapler staple "$dmg"
  fi
fi
echo "ok: $dmg ($(du -h "$dmg" | cut -f1))"
