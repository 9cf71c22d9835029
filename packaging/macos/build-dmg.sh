#!/usr/bin/env bash
# macOS only: from dist/"Handshake Doctor.app" (packaging/build.sh) makes
#   dist/handshake-doctor-<version><mark>-macos-<arch>.dmg  a drag-to-Applications disk image, and
#   dist/handshake-doctor-<version><mark>-macos-<arch>.zip  the .app alone, the portable copy
#                                                           (unzip it and run it, nothing installed)
# Signing: with MACOS_SIGN_IDENTITY ("Developer ID Application: ..."), every binary in the app is
# signed with the hardened runtime, a secure timestamp and packaging/macos/entitlements.plist;
# with MACOS_NOTARY_PROFILE too (a notarytool profile in the keychain MACOS_KEYCHAIN, both made by
# the release workflow from its secrets), the image is notarized and the ticket stapled to the
# image and to the app. Without them the app keeps PyInstaller's ad-hoc signature, Gatekeeper asks
# before the first start, and UNSIGNED_MARK (the workflow sets "-unsigned") goes into the names.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(uname -s)" = Darwin ] || { echo "error: build-dmg.sh runs on macOS only (hdiutil)" >&2; exit 1; }
app="dist/Handshake Doctor.app"
[ -d "$app" ] || { echo "error: $app is missing: run packaging/build.sh" >&2; exit 1; }
version=$(cat dist/VERSION)
arch=$(uname -m)
name="handshake-doctor-$version${UNSIGNED_MARK:-}-macos-$arch"
dmg="dist/$name.dmg"
zip="dist/$name.zip"
identity=${MACOS_SIGN_IDENTITY:-}
notary=${MACOS_NOTARY_PROFILE:-}
if [ -n "$notary" ] && [ -z "$identity" ]; then
  echo "error: MACOS_NOTARY_PROFILE without MACOS_SIGN_IDENTITY: Apple notarizes signed apps only" >&2
  exit 1
fi

plutil -lint "$app/Contents/Info.plist"
said=$("$app/Contents/MacOS/handshake-doctor" --version)
[ "$said" = "handshake-doctor $version" ] || { echo "error: the app says '$said'" >&2; exit 1; }

if [ -n "$identity" ]; then
  # --deep re-signs every nested binary the way PyInstaller signs its own .app bundles; the
  # checks below fail the build if any of it lacks the runtime flag or the timestamp.
  codesign --force --deep --options runtime --timestamp \
    --entitlements packaging/macos/entitlements.plist --sign "$identity" "$app"
  codesign --verify --deep --strict --verbose=2 "$app"
  details=$(codesign --display --verbose=4 "$app" 2>&1)
  grep -q "flags=0x10000(runtime)" <<<"$details" || { echo "error: no hardened runtime" >&2; exit 1; }
  grep -q "^Timestamp=" <<<"$details" || { echo "error: no secure timestamp" >&2; exit 1; }
  grep -q "^Authority=Developer ID Application" <<<"$details" ||
    { echo "error: not signed by a Developer ID Application certificate" >&2; exit 1; }
fi

stage=build/dmg
rm -rf "$stage" && mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
hdiutil create -volname "Handshake Doctor $version" -srcfolder "$stage" -fs HFS+ \
  -format UDZO -imagekey zlib-level=9 -ov "$dmg"
hdiutil verify "$dmg"

if [ -n "$identity" ]; then
  codesign --force --timestamp --sign "$identity" "$dmg"
fi
if [ -n "$notary" ]; then
  keychain_args=()  # expanded with the ${a[@]+...} form: bash 3.2 (/bin/bash) calls () unset
  [ -n "${MACOS_KEYCHAIN:-}" ] && keychain_args=(--keychain "$MACOS_KEYCHAIN")
  result=build/notarization.json
  xcrun notarytool submit "$dmg" --keychain-profile "$notary" \
    ${keychain_args[@]+"${keychain_args[@]}"} --wait --timeout 45m --output-format json >"$result"
  status=$(plutil -extract status raw -o - "$result")
  if [ "$status" != Accepted ]; then
    # Apple's log names each file it refused and why.
    xcrun notarytool log "$(plutil -extract id raw -o - "$result")" \
      --keychain-profile "$notary" ${keychain_args[@]+"${keychain_args[@]}"} || true
    echo "error: notarization ended '$status'" >&2
    exit 1
  fi
  # The service recorded every binary of the image, so the app's own ticket exists too: stapled,
  # the portable .zip's app opens without asking Apple first (offline laptops).
  xcrun stapler staple "$dmg"
  xcrun stapler staple "$app"
  xcrun stapler validate "$dmg"
  xcrun stapler validate "$app"
  spctl --assess --type execute --verbose=2 "$app"
fi
echo "ok: $dmg ($(du -h "$dmg" | cut -f1))"

# ditto keeps what a .app needs and a plain zip loses: the frameworks' symbolic links, extended
# attributes and the stapled ticket.
rm -f "$zip"
ditto -c -k --sequesterRsrc --keepParent "$app" "$zip"
echo "ok: $zip ($(du -h "$zip" | cut -f1))"
